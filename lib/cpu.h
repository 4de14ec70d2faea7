/* CPU counting internals, exposed so tests can point the cgroup walk at a fake tree. */
#ifndef SHMPOOL_CPU_H
#define SHMPOOL_CPU_H

/* The CPU limit of the cgroup v2 quota (cpu.max) that applies to a process whose
   /proc/<pid>/cgroup file is `proc_self_cgroup_path`, with the cgroup v2 hierarchy mounted at
   `cgroup_root`: the smallest ceil(quota / period) over its cgroup and every ancestor up to the
   root. 0 when no quota applies or none can be read (cgroup v1 only, no cpu controller). */
int shmpool__cpu_quota_from(const char *cgroup_root, const char *proc_self_cgroup_path);

#endif
