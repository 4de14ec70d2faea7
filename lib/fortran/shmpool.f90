!> shmpool for Fortran 2008: the whole C interface of shmpool.h through ISO_C_BINDING, its
!> constants and types, and helpers that Fortran needs (strings, pointer arrays with the bounds you
!> ask for, errno of an allocation).
!>
!> Handles (pool, result, process, queue, and the synchronisation objects: lock, rlock, sem, event,
!> cond, barrier, value) are type(c_ptr). Every function returns 0 or a negative code, as in C;
!> shmpool_strerror(code) says what it means. Callbacks are bind(C) procedures passed with
!> c_funloc; their arguments are C's (ctx by value as type(c_ptr), value; sizes as
!> integer(c_size_t), value). Strings passed to C must end with c_null_char. C's unsigned
!> arguments (flags, counts) are integer(c_int), value here: pass values >= 0.
!>
!> The range callback's convention: a chunk is [b, e) with ZERO-BASED b and e, as in C. A Fortran
!> loop over 1-based arrays runs `do i = b + 1, e`; over arrays allocated with bounds [0, n-1]
!> (shmpool_alloc_array) it runs `do i = b, e - 1`.
!>
!>     integer(c_int) function chunk(ctx, b, e) bind(C)
!>       type(c_ptr), value :: ctx
!>       integer(c_size_t), value :: b, e
!>
!> Memory model: workers see shmpool memory (shmpool_alloc, shmpool_alloc_array) as it is now, and
!> all other memory as it was when shmpool_create ran. Pass a ctx by value (the *_ctx calls,
!> ctx_size = c_sizeof(ctx)), with pointers into shmpool memory inside it.
module shmpool
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  implicit none
  private :: report, c_string, extent, nbytes, error_unit
  private :: alloc_r8_1, alloc_r8_2, alloc_r4_1, alloc_r4_2, alloc_i4_1, alloc_i4_2, alloc_i8_1, alloc_i8_2
  private :: free_r8_1, free_r8_2, free_r4_1, free_r4_2, free_i4_1, free_i4_2, free_i8_1, free_i8_2

  integer(c_int), parameter :: SHMPOOL_VERSION_MAJOR = 0, SHMPOOL_VERSION_MINOR = 1, &
                               SHMPOOL_VERSION_PATCH = 0

  ! The library's own codes (SHMPOOL_ERRNO_MAP in shmpool.h): -(SHMPOOL_ERRNO_BASE + offset).
  integer(c_int), parameter :: SHMPOOL_ERRNO_BASE = 4096
  integer(c_int), parameter :: SHMPOOL_EHELPER = -(SHMPOOL_ERRNO_BASE + 1)
  integer(c_int), parameter :: SHMPOOL_EPEER = -(SHMPOOL_ERRNO_BASE + 2)
  integer(c_int), parameter :: SHMPOOL_EMISMATCH = -(SHMPOOL_ERRNO_BASE + 3)
  integer(c_int), parameter :: SHMPOOL_EMAP = -(SHMPOOL_ERRNO_BASE + 4)
  integer(c_int), parameter :: SHMPOOL_ESTALE = -(SHMPOOL_ERRNO_BASE + 5)
  integer(c_int), parameter :: SHMPOOL_EBROKEN = -(SHMPOOL_ERRNO_BASE + 6)
  integer(c_int), parameter :: SHMPOOL_EFILECHANGED = -(SHMPOOL_ERRNO_BASE + 13)
  integer(c_int), parameter :: SHMPOOL_EBUDGET = -(SHMPOOL_ERRNO_BASE + 14)
  integer(c_int), parameter :: SHMPOOL_ETASKEXC = -(SHMPOOL_ERRNO_BASE + 16)
  ! A few errno codes the calls document (Linux values), negated as the calls return them.
  integer(c_int), parameter :: SHMPOOL_EINVAL = -22, SHMPOOL_ENOMEM = -12, SHMPOOL_ENOSPC = -28, &
                               SHMPOOL_ETIMEDOUT = -110, SHMPOOL_ECANCELED = -125, &
                               SHMPOOL_ESHUTDOWN = -108, SHMPOOL_EOVERFLOW = -75

  integer(c_int32_t), parameter :: SHMPOOL_FLAG_NO_SPIN = 1, SHMPOOL_FLAG_NO_IO_URING = 2, &
                                   SHMPOOL_FLAG_QUIET = 4, SHMPOOL_FLAG_CALLER_RUNS = 8, &
                                   SHMPOOL_FLAG_NO_CTX_CHECK = 16
  integer(c_int), parameter :: SHMPOOL_CPU_LOGICAL = 0, SHMPOOL_CPU_PHYSICAL = 1, &
                               SHMPOOL_CPU_USABLE = 2
  integer(c_int), parameter :: SHMPOOL_PROGRESS_AUTO = 0, SHMPOOL_PROGRESS_ALWAYS = 1, &
                               SHMPOOL_PROGRESS_NEVER = 2
  integer(c_int), parameter :: SHMPOOL_MAX_COLUMNS = 16, SHMPOOL_ARRAY_MAX_DIMS = 32, &
                               SHMPOOL_REDUCE_CHUNKS = 128, SHMPOOL_TASK_MESSAGE_MAX = 256
  integer(c_size_t), parameter :: SHMPOOL_MAX_CTX_BYTES = 2_c_size_t**20
  ! shmpool_dtype
  integer(c_int), parameter :: SHMPOOL_F8 = 1, SHMPOOL_F4 = 2, SHMPOOL_I8 = 3, SHMPOOL_I4 = 4, &
                               SHMPOOL_I2 = 5, SHMPOOL_I1 = 6, SHMPOOL_U8 = 7, SHMPOOL_U4 = 8, &
                               SHMPOOL_U2 = 9, SHMPOOL_U1 = 10, SHMPOOL_BOOL = 11

  ! More errno codes, of the calls that deliver results as they complete and of the
  ! synchronisation objects.
  integer(c_int), parameter :: SHMPOOL_EPERM = -1, SHMPOOL_EDEADLK = -35, SHMPOOL_ENODATA = -61, &
                               SHMPOOL_EALREADY = -114, SHMPOOL_EOWNERDEAD = -130, &
                               SHMPOOL_ENOTRECOVERABLE = -131
  ! flags of shmpool_result_next, shmpool_sem_create, shmpool_value_create
  integer(c_int), parameter :: SHMPOOL_NEXT_UNORDERED = 1, SHMPOOL_SEM_BOUNDED = 1, &
                               SHMPOOL_VALUE_LOCK = 1
  integer(c_int), parameter :: SHMPOOL_SEM_VALUE_MAX = huge(0_c_int)

  !> shmpool_options, field for field (the reserved ones included: they must stay zero).
  type, bind(C) :: shmpool_options
    integer(c_int) :: workers = 0
    type(c_funptr) :: initializer = c_null_funptr
    type(c_ptr) :: initializer_arg = c_null_ptr
    integer(c_int) :: max_tasks_per_worker = 0
    integer(c_int32_t) :: flags = 0
    integer(c_int) :: queue_depth = 0
    integer(c_size_t) :: arena_bytes = 0
    integer(c_int) :: max_segments = 0
    integer(c_int) :: spin_us = 0
    integer(c_int) :: task_retries = 0
    integer(c_int) :: task_timeout_ms = 0
    integer(c_int) :: worker_threads = 0
    integer(c_int) :: reserved_u_ = 0
    integer(c_int64_t) :: reserved_(5) = 0
  end type

  !> What a shmpool_for_with_id callback is told (zero-based index and worker).
  type, bind(C) :: shmpool_chunk_id
    integer(c_size_t) :: index, count
    integer(c_int) :: worker, workers
  end type

  !> shmpool_array (shape in C order: shape(1) is the slowest axis).
  type, bind(C) :: shmpool_array
    type(c_ptr) :: data = c_null_ptr
    integer(c_int) :: dtype = 0
    integer(c_int) :: ndim = 0
    integer(c_size_t) :: shape(SHMPOOL_ARRAY_MAX_DIMS) = 0
    integer(c_size_t) :: count = 0, nbytes = 0
  end type

  !> shmpool_stream_options, field for field (zero means the default; reserved_ must stay zero).
  type, bind(C) :: shmpool_stream_options
    integer(c_size_t) :: budget = 0
    integer(c_size_t) :: chunk = 0
    integer(c_int) :: raw_dtype = 0
    integer(c_int) :: out_dtype = 0
    integer(c_int) :: buffers = 0
    integer(c_size_t) :: first_row = 0
    integer(c_size_t) :: end_row = 0
    integer(c_int64_t) :: reserved_(4) = 0
  end type

  !> The callbacks, for procedure(...) declarations; pass them to the calls with c_funloc.
  abstract interface
    integer(c_int) function shmpool_range_fn(ctx, b, e) bind(C)
      import
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: b, e
    end function
    integer(c_int) function shmpool_range_id_fn(ctx, b, e, id) bind(C)
      import
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: b, e
      type(shmpool_chunk_id), intent(in) :: id
    end function
    integer(c_int) function shmpool_fn(in, out, ctx) bind(C)
      import
      type(c_ptr), value :: in, out, ctx
    end function
    integer(c_int) function shmpool_star_fn(args, out, ctx) bind(C)
      import
      type(c_ptr), intent(in) :: args(*)
      type(c_ptr), value :: out, ctx
    end function
    integer(c_int) function shmpool_reduce_fn(ctx, b, e, partial) bind(C)
      import
      type(c_ptr), value :: ctx, partial
      integer(c_size_t), value :: b, e
    end function
    subroutine shmpool_combine_fn(acc, partial, ctx) bind(C)
      import
      type(c_ptr), value :: acc, partial, ctx
    end subroutine
    integer(c_int) function shmpool_process_fn(arg) bind(C)
      import
      type(c_ptr), value :: arg
    end function
    subroutine shmpool_done_fn(r, arg) bind(C)
      import
      type(c_ptr), value :: r, arg
    end subroutine
    subroutine shmpool_error_fn(r, code, index, arg) bind(C)
      import
      type(c_ptr), value :: r
      integer(c_int), value :: code
      integer(c_size_t), value :: index
      type(c_ptr), value :: arg
    end subroutine
    !> rows: row `b` (zero-based) of the file in shared memory, valid during the call only.
    integer(c_int) function shmpool_stream_fn(ctx, rows, b, e) bind(C)
      import
      type(c_ptr), value :: ctx, rows
      integer(c_size_t), value :: b, e
    end function
    integer(c_int) function shmpool_stream_reduce_fn(ctx, rows, b, e, partial) bind(C)
      import
      type(c_ptr), value :: ctx, rows
      integer(c_size_t), value :: b, e
      type(c_ptr), value :: partial
    end function
    !> shmpool_cond_wait_for's predicate: nonzero when the condition holds.
    integer(c_int) function shmpool_pred_fn(arg) bind(C)
      import
      type(c_ptr), value :: arg
    end function
  end interface

  !> Every public function of shmpool.h. Those returning a C string are *_c here; the Fortran
  !> functions of the plain names return Fortran strings. shmpool_value_lock is
  !> shmpool_value_get_lock (its name is the flag's).
  interface
    function shmpool_version() bind(C, name="shmpool_version")
      import
      integer(c_int) :: shmpool_version
    end function
    function shmpool_error_signal(code) bind(C, name="shmpool_error_signal")
      import
      integer(c_int), value :: code
      integer(c_int) :: shmpool_error_signal
    end function
    function shmpool_error_exit_status(code) bind(C, name="shmpool_error_exit_status")
      import
      integer(c_int), value :: code
      integer(c_int) :: shmpool_error_exit_status
    end function
    function shmpool_strerror_c(code) bind(C, name="shmpool_strerror")
      import
      integer(c_int), value :: code
      type(c_ptr) :: shmpool_strerror_c
    end function
    function shmpool_create(pool, opt) bind(C, name="shmpool_create")
      import
      type(c_ptr), intent(out) :: pool
      type(shmpool_options), intent(in) :: opt
      integer(c_int) :: shmpool_create
    end function
    subroutine shmpool_destroy(pool) bind(C, name="shmpool_destroy")
      import
      type(c_ptr), value :: pool
    end subroutine
    function shmpool_close(pool) bind(C, name="shmpool_close")
      import
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_close
    end function
    function shmpool_join(pool) bind(C, name="shmpool_join")
      import
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_join
    end function
    function shmpool_terminate(pool) bind(C, name="shmpool_terminate")
      import
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_terminate
    end function
    function shmpool_workers(pool) bind(C, name="shmpool_workers")
      import
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_workers
    end function
    function shmpool_alloc(pool, bytes) bind(C, name="shmpool_alloc")
      import
      type(c_ptr), value :: pool
      integer(c_size_t), value :: bytes
      type(c_ptr) :: shmpool_alloc
    end function
    function shmpool_free(pool, p) bind(C, name="shmpool_free")
      import
      type(c_ptr), value :: pool
      type(c_ptr), value :: p
      integer(c_int) :: shmpool_free
    end function
    function shmpool_alloc_size(pool, p) bind(C, name="shmpool_alloc_size")
      import
      type(c_ptr), value :: pool
      type(c_ptr), value :: p
      integer(c_size_t) :: shmpool_alloc_size
    end function
    function shmpool_map(p, fn, ctx, in, in_size, out, out_size, n, chunk) bind(C, &
        name="shmpool_map")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(c_ptr), value :: in
      integer(c_size_t), value :: in_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_map
    end function
    function shmpool_map_async(p, fn, ctx, in, in_size, out, out_size, n, chunk, r) bind(C, &
        name="shmpool_map_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(c_ptr), value :: in
      integer(c_size_t), value :: in_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_map_async
    end function
    function shmpool_starmap(p, fn, ctx, k, cols, sizes, out, out_size, n, chunk) bind(C, &
        name="shmpool_starmap")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: k
      type(c_ptr), intent(in) :: cols(*)
      integer(c_size_t), intent(in) :: sizes(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_starmap
    end function
    function shmpool_starmap_async(p, fn, ctx, k, cols, sizes, out, out_size, n, chunk, &
        r) bind(C, name="shmpool_starmap_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: k
      type(c_ptr), intent(in) :: cols(*)
      integer(c_size_t), intent(in) :: sizes(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_starmap_async
    end function
    function shmpool_apply(p, fn, ctx, args, args_size, out, out_size) bind(C, name="shmpool_apply")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(c_ptr), value :: args
      integer(c_size_t), value :: args_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_int) :: shmpool_apply
    end function
    function shmpool_apply_async(p, fn, ctx, args, args_size, out, out_size, r) bind(C, &
        name="shmpool_apply_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(c_ptr), value :: args
      integer(c_size_t), value :: args_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_apply_async
    end function
    function shmpool_for(p, fn, ctx, n, chunk) bind(C, name="shmpool_for")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_for
    end function
    function shmpool_for_async(p, fn, ctx, n, chunk, r) bind(C, name="shmpool_for_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_for_async
    end function
    function shmpool_result_get(r, timeout_ms) bind(C, name="shmpool_result_get")
      import
      type(c_ptr), value :: r
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_result_get
    end function
    function shmpool_result_error(r, index) bind(C, name="shmpool_result_error")
      import
      type(c_ptr), value :: r
      integer(c_size_t), intent(out) :: index
      integer(c_int) :: shmpool_result_error
    end function
    function shmpool_result_ready(r) bind(C, name="shmpool_result_ready")
      import
      type(c_ptr), value :: r
      integer(c_int) :: shmpool_result_ready
    end function
    subroutine shmpool_result_progress(r, done, total) bind(C, name="shmpool_result_progress")
      import
      type(c_ptr), value :: r
      integer(c_size_t), intent(out) :: done
      integer(c_size_t), intent(out) :: total
    end subroutine
    function shmpool_result_cancel(r) bind(C, name="shmpool_result_cancel")
      import
      type(c_ptr), value :: r
      integer(c_int) :: shmpool_result_cancel
    end function
    subroutine shmpool_result_free(r) bind(C, name="shmpool_result_free")
      import
      type(c_ptr), value :: r
    end subroutine
    function shmpool_progress_wait(r, label, mode) bind(C, name="shmpool_progress_wait")
      import
      type(c_ptr), value :: r
      character(kind=c_char), intent(in) :: label(*)
      integer(c_int), value :: mode
      integer(c_int) :: shmpool_progress_wait
    end function
    function shmpool_progress_format(buf, len, label, done, total, elapsed_s, width) bind(C, &
        name="shmpool_progress_format")
      import
      character(kind=c_char), intent(out) :: buf(*)
      integer(c_size_t), value :: len
      character(kind=c_char), intent(in) :: label(*)
      integer(c_size_t), value :: done
      integer(c_size_t), value :: total
      real(c_double), value :: elapsed_s
      integer(c_int), value :: width
      integer(c_int) :: shmpool_progress_format
    end function
    function shmpool_cpu_count(kind) bind(C, name="shmpool_cpu_count")
      import
      integer(c_int), value :: kind
      integer(c_int) :: shmpool_cpu_count
    end function
    function shmpool_process_start(proc, fn, arg) bind(C, name="shmpool_process_start")
      import
      type(c_ptr), intent(out) :: proc
      type(c_funptr), value :: fn
      type(c_ptr), value :: arg
      integer(c_int) :: shmpool_process_start
    end function
    function shmpool_process_join(proc, timeout_ms) bind(C, name="shmpool_process_join")
      import
      type(c_ptr), value :: proc
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_process_join
    end function
    function shmpool_process_terminate(proc) bind(C, name="shmpool_process_terminate")
      import
      type(c_ptr), value :: proc
      integer(c_int) :: shmpool_process_terminate
    end function
    function shmpool_process_exitcode(proc, code) bind(C, name="shmpool_process_exitcode")
      import
      type(c_ptr), value :: proc
      integer(c_int), intent(out) :: code
      integer(c_int) :: shmpool_process_exitcode
    end function
    function shmpool_process_pid(proc) bind(C, name="shmpool_process_pid")
      import
      type(c_ptr), value :: proc
      integer(c_int) :: shmpool_process_pid
    end function
    subroutine shmpool_process_free(proc) bind(C, name="shmpool_process_free")
      import
      type(c_ptr), value :: proc
    end subroutine
    function shmpool_queue_create(q, pool, capacity, max_msg) bind(C, name="shmpool_queue_create")
      import
      type(c_ptr), intent(out) :: q
      type(c_ptr), value :: pool
      integer(c_size_t), value :: capacity
      integer(c_size_t), value :: max_msg
      integer(c_int) :: shmpool_queue_create
    end function
    function shmpool_queue_put(q, msg, len, timeout_ms) bind(C, name="shmpool_queue_put")
      import
      type(c_ptr), value :: q
      type(c_ptr), value :: msg
      integer(c_size_t), value :: len
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_queue_put
    end function
    function shmpool_queue_get(q, buf, buflen, len, timeout_ms) bind(C, name="shmpool_queue_get")
      import
      type(c_ptr), value :: q
      type(c_ptr), value :: buf
      integer(c_size_t), value :: buflen
      integer(c_size_t), intent(out) :: len
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_queue_get
    end function
    function shmpool_queue_size(q) bind(C, name="shmpool_queue_size")
      import
      type(c_ptr), value :: q
      integer(c_size_t) :: shmpool_queue_size
    end function
    subroutine shmpool_queue_destroy(q) bind(C, name="shmpool_queue_destroy")
      import
      type(c_ptr), value :: q
    end subroutine
    function shmpool_dtype_size(dtype) bind(C, name="shmpool_dtype_size")
      import
      integer(c_int), value :: dtype
      integer(c_size_t) :: shmpool_dtype_size
    end function
    function shmpool_dtype_descr_c(dtype) bind(C, name="shmpool_dtype_descr")
      import
      integer(c_int), value :: dtype
      type(c_ptr) :: shmpool_dtype_descr_c
    end function
    function shmpool_array_load(pool, path, arr) bind(C, name="shmpool_array_load")
      import
      type(c_ptr), value :: pool
      character(kind=c_char), intent(in) :: path(*)
      type(shmpool_array), intent(inout) :: arr
      integer(c_int) :: shmpool_array_load
    end function
    function shmpool_array_stat(path, arr) bind(C, name="shmpool_array_stat")
      import
      character(kind=c_char), intent(in) :: path(*)
      type(shmpool_array), intent(inout) :: arr
      integer(c_int) :: shmpool_array_stat
    end function
    function shmpool_array_load_rows(pool, path, first_row, nrows, arr) bind(C, &
        name="shmpool_array_load_rows")
      import
      type(c_ptr), value :: pool
      character(kind=c_char), intent(in) :: path(*)
      integer(c_size_t), value :: first_row
      integer(c_size_t), value :: nrows
      type(shmpool_array), intent(inout) :: arr
      integer(c_int) :: shmpool_array_load_rows
    end function
    function shmpool_array_load_raw(pool, path, dtype, arr) bind(C, name="shmpool_array_load_raw")
      import
      type(c_ptr), value :: pool
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int), value :: dtype
      type(shmpool_array), intent(inout) :: arr
      integer(c_int) :: shmpool_array_load_raw
    end function
    function shmpool_array_save(pool, path, arr) bind(C, name="shmpool_array_save")
      import
      type(c_ptr), value :: pool
      character(kind=c_char), intent(in) :: path(*)
      type(shmpool_array), intent(in) :: arr
      integer(c_int) :: shmpool_array_save
    end function
    subroutine shmpool_array_free(pool, arr) bind(C, name="shmpool_array_free")
      import
      type(c_ptr), value :: pool
      type(shmpool_array), intent(inout) :: arr
    end subroutine
    function shmpool_for_ctx(p, fn, ctx, ctx_size, n, chunk) bind(C, name="shmpool_for_ctx")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_for_ctx
    end function
    function shmpool_for_ctx_async(p, fn, ctx, ctx_size, n, chunk, r) bind(C, &
        name="shmpool_for_ctx_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_for_ctx_async
    end function
    function shmpool_for_with_id(p, fn, ctx, ctx_size, n, chunk) bind(C, name="shmpool_for_with_id")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_for_with_id
    end function
    function shmpool_for_with_id_async(p, fn, ctx, ctx_size, n, chunk, r) bind(C, &
        name="shmpool_for_with_id_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_for_with_id_async
    end function
    function shmpool_map_ctx(p, fn, ctx, ctx_size, in, in_size, out, out_size, n, &
        chunk) bind(C, name="shmpool_map_ctx")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      type(c_ptr), value :: in
      integer(c_size_t), value :: in_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_map_ctx
    end function
    function shmpool_map_ctx_async(p, fn, ctx, ctx_size, in, in_size, out, out_size, n, chunk, &
        r) bind(C, name="shmpool_map_ctx_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      type(c_ptr), value :: in
      integer(c_size_t), value :: in_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_map_ctx_async
    end function
    function shmpool_starmap_ctx(p, fn, ctx, ctx_size, k, cols, sizes, out, out_size, n, &
        chunk) bind(C, name="shmpool_starmap_ctx")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: k
      type(c_ptr), intent(in) :: cols(*)
      integer(c_size_t), intent(in) :: sizes(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int) :: shmpool_starmap_ctx
    end function
    function shmpool_starmap_ctx_async(p, fn, ctx, ctx_size, k, cols, sizes, out, out_size, n, &
        chunk, r) bind(C, name="shmpool_starmap_ctx_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: k
      type(c_ptr), intent(in) :: cols(*)
      integer(c_size_t), intent(in) :: sizes(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_starmap_ctx_async
    end function
    function shmpool_apply_ctx(p, fn, ctx, ctx_size, args, args_size, out, out_size) bind(C, &
        name="shmpool_apply_ctx")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      type(c_ptr), value :: args
      integer(c_size_t), value :: args_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_int) :: shmpool_apply_ctx
    end function
    function shmpool_apply_ctx_async(p, fn, ctx, ctx_size, args, args_size, out, out_size, &
        r) bind(C, name="shmpool_apply_ctx_async")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      type(c_ptr), value :: args
      integer(c_size_t), value :: args_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_apply_ctx_async
    end function
    function shmpool_reduce(p, fn, combine, ctx, ctx_size, n, chunk, acc, acc_size) bind(C, &
        name="shmpool_reduce")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_funptr), value :: combine
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: ctx_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), value :: acc
      integer(c_size_t), value :: acc_size
      integer(c_int) :: shmpool_reduce
    end function
    function shmpool_chunking(p, n, chunk, reduce, chunk_size, chunks) bind(C, &
        name="shmpool_chunking")
      import
      type(c_ptr), value :: p
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      integer(c_int), value :: reduce
      integer(c_size_t), intent(out) :: chunk_size
      integer(c_size_t), intent(out) :: chunks
      integer(c_int) :: shmpool_chunking
    end function
    function shmpool_worker_index() bind(C, name="shmpool_worker_index")
      import
      integer(c_int) :: shmpool_worker_index
    end function
    function shmpool_task_fail_message(msg) bind(C, name="shmpool_task_fail_message")
      import
      character(kind=c_char), intent(in) :: msg(*)
      integer(c_int) :: shmpool_task_fail_message
    end function
    function shmpool_result_message_c(r) bind(C, name="shmpool_result_message")
      import
      type(c_ptr), value :: r
      type(c_ptr) :: shmpool_result_message_c
    end function
    function shmpool_last_message_c() bind(C, name="shmpool_last_message")
      import
      type(c_ptr) :: shmpool_last_message_c
    end function

    ! Results as they complete
    function shmpool_imap(p, fn, ctx, in, in_size, out, out_size, n, chunk, r) bind(C, &
        name="shmpool_imap")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(c_ptr), value :: in
      integer(c_size_t), value :: in_size
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_imap
    end function
    function shmpool_imap_starmap(p, fn, ctx, k, cols, sizes, out, out_size, n, chunk, r) &
        bind(C, name="shmpool_imap_starmap")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: k
      type(c_ptr), intent(in) :: cols(*)
      integer(c_size_t), intent(in) :: sizes(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: out_size
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_imap_starmap
    end function
    function shmpool_imap_for(p, fn, ctx, n, chunk, r) bind(C, name="shmpool_imap_for")
      import
      type(c_ptr), value :: p
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: n
      integer(c_size_t), value :: chunk
      type(c_ptr), intent(out) :: r
      integer(c_int) :: shmpool_imap_for
    end function
    function shmpool_result_next(r, flags, begin, end, timeout_ms) bind(C, &
        name="shmpool_result_next")
      import
      type(c_ptr), value :: r
      integer(c_int), value :: flags
      integer(c_size_t), intent(out) :: begin
      integer(c_size_t), intent(out) :: end
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_result_next
    end function
    function shmpool_wait_any(rs, n, timeout_ms, which) bind(C, name="shmpool_wait_any")
      import
      type(c_ptr), intent(in) :: rs(*)
      integer(c_size_t), value :: n
      integer(c_int), value :: timeout_ms
      integer(c_size_t), intent(out) :: which
      integer(c_int) :: shmpool_wait_any
    end function
    function shmpool_wait_all(rs, n, timeout_ms) bind(C, name="shmpool_wait_all")
      import
      type(c_ptr), intent(in) :: rs(*)
      integer(c_size_t), value :: n
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_wait_all
    end function
    function shmpool_result_on_done(r, ok, err, arg) bind(C, name="shmpool_result_on_done")
      import
      type(c_ptr), value :: r
      type(c_funptr), value :: ok
      type(c_funptr), value :: err
      type(c_ptr), value :: arg
      integer(c_int) :: shmpool_result_on_done
    end function
    function shmpool_poll(p, timeout_ms) bind(C, name="shmpool_poll")
      import
      type(c_ptr), value :: p
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_poll
    end function

    ! Streaming files
    function shmpool_stream_map(p, in_path, out_path, fn, ctx, out_size, opt, fail_index) &
        bind(C, name="shmpool_stream_map")
      import
      type(c_ptr), value :: p
      character(kind=c_char), intent(in) :: in_path(*)
      character(kind=c_char), intent(in) :: out_path(*)
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: out_size
      type(shmpool_stream_options), intent(in) :: opt
      integer(c_size_t), intent(out) :: fail_index
      integer(c_int) :: shmpool_stream_map
    end function
    function shmpool_stream_for(p, path, fn, ctx, opt, fail_index) bind(C, &
        name="shmpool_stream_for")
      import
      type(c_ptr), value :: p
      character(kind=c_char), intent(in) :: path(*)
      type(c_funptr), value :: fn
      type(c_ptr), value :: ctx
      type(shmpool_stream_options), intent(in) :: opt
      integer(c_size_t), intent(out) :: fail_index
      integer(c_int) :: shmpool_stream_for
    end function
    function shmpool_stream_reduce(p, path, fn, combine, ctx, acc, partial_size, opt, &
        fail_index) bind(C, name="shmpool_stream_reduce")
      import
      type(c_ptr), value :: p
      character(kind=c_char), intent(in) :: path(*)
      type(c_funptr), value :: fn
      type(c_funptr), value :: combine
      type(c_ptr), value :: ctx
      type(c_ptr), value :: acc
      integer(c_size_t), value :: partial_size
      type(shmpool_stream_options), intent(in) :: opt
      integer(c_size_t), intent(out) :: fail_index
      integer(c_int) :: shmpool_stream_reduce
    end function

    ! Synchronisation between processes: locks
    function shmpool_lock_create(l, pool) bind(C, name="shmpool_lock_create")
      import
      type(c_ptr), intent(out) :: l
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_lock_create
    end function
    subroutine shmpool_lock_destroy(l) bind(C, name="shmpool_lock_destroy")
      import
      type(c_ptr), value :: l
    end subroutine
    function shmpool_lock_acquire(l, timeout_ms) bind(C, name="shmpool_lock_acquire")
      import
      type(c_ptr), value :: l
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_lock_acquire
    end function
    function shmpool_lock_release(l) bind(C, name="shmpool_lock_release")
      import
      type(c_ptr), value :: l
      integer(c_int) :: shmpool_lock_release
    end function
    function shmpool_lock_consistent(l) bind(C, name="shmpool_lock_consistent")
      import
      type(c_ptr), value :: l
      integer(c_int) :: shmpool_lock_consistent
    end function
    function shmpool_lock_locked(l) bind(C, name="shmpool_lock_locked")
      import
      type(c_ptr), value :: l
      integer(c_int) :: shmpool_lock_locked
    end function
    function shmpool_rlock_create(l, pool) bind(C, name="shmpool_rlock_create")
      import
      type(c_ptr), intent(out) :: l
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_rlock_create
    end function
    subroutine shmpool_rlock_destroy(l) bind(C, name="shmpool_rlock_destroy")
      import
      type(c_ptr), value :: l
    end subroutine
    function shmpool_rlock_acquire(l, timeout_ms) bind(C, name="shmpool_rlock_acquire")
      import
      type(c_ptr), value :: l
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_rlock_acquire
    end function
    function shmpool_rlock_release(l) bind(C, name="shmpool_rlock_release")
      import
      type(c_ptr), value :: l
      integer(c_int) :: shmpool_rlock_release
    end function
    function shmpool_rlock_consistent(l) bind(C, name="shmpool_rlock_consistent")
      import
      type(c_ptr), value :: l
      integer(c_int) :: shmpool_rlock_consistent
    end function

    ! semaphores (value and flags are C unsigned: pass values >= 0)
    function shmpool_sem_create(s, pool, value, flags) bind(C, name="shmpool_sem_create")
      import
      type(c_ptr), intent(out) :: s
      type(c_ptr), value :: pool
      integer(c_int), value :: value
      integer(c_int), value :: flags
      integer(c_int) :: shmpool_sem_create
    end function
    subroutine shmpool_sem_destroy(s) bind(C, name="shmpool_sem_destroy")
      import
      type(c_ptr), value :: s
    end subroutine
    function shmpool_sem_acquire(s, timeout_ms) bind(C, name="shmpool_sem_acquire")
      import
      type(c_ptr), value :: s
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_sem_acquire
    end function
    function shmpool_sem_release(s) bind(C, name="shmpool_sem_release")
      import
      type(c_ptr), value :: s
      integer(c_int) :: shmpool_sem_release
    end function
    function shmpool_sem_value(s) bind(C, name="shmpool_sem_value")
      import
      type(c_ptr), value :: s
      integer(c_int) :: shmpool_sem_value
    end function

    ! events
    function shmpool_event_create(e, pool) bind(C, name="shmpool_event_create")
      import
      type(c_ptr), intent(out) :: e
      type(c_ptr), value :: pool
      integer(c_int) :: shmpool_event_create
    end function
    subroutine shmpool_event_destroy(e) bind(C, name="shmpool_event_destroy")
      import
      type(c_ptr), value :: e
    end subroutine
    function shmpool_event_set(e) bind(C, name="shmpool_event_set")
      import
      type(c_ptr), value :: e
      integer(c_int) :: shmpool_event_set
    end function
    function shmpool_event_clear(e) bind(C, name="shmpool_event_clear")
      import
      type(c_ptr), value :: e
      integer(c_int) :: shmpool_event_clear
    end function
    function shmpool_event_is_set(e) bind(C, name="shmpool_event_is_set")
      import
      type(c_ptr), value :: e
      integer(c_int) :: shmpool_event_is_set
    end function
    function shmpool_event_wait(e, timeout_ms) bind(C, name="shmpool_event_wait")
      import
      type(c_ptr), value :: e
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_event_wait
    end function

    ! conditions
    function shmpool_cond_create(c, pool, lock) bind(C, name="shmpool_cond_create")
      import
      type(c_ptr), intent(out) :: c
      type(c_ptr), value :: pool
      type(c_ptr), value :: lock
      integer(c_int) :: shmpool_cond_create
    end function
    subroutine shmpool_cond_destroy(c) bind(C, name="shmpool_cond_destroy")
      import
      type(c_ptr), value :: c
    end subroutine
    function shmpool_cond_lock(c) bind(C, name="shmpool_cond_lock")
      import
      type(c_ptr), value :: c
      type(c_ptr) :: shmpool_cond_lock
    end function
    function shmpool_cond_wait(c, timeout_ms) bind(C, name="shmpool_cond_wait")
      import
      type(c_ptr), value :: c
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_cond_wait
    end function
    function shmpool_cond_wait_for(c, pred, arg, timeout_ms) bind(C, name="shmpool_cond_wait_for")
      import
      type(c_ptr), value :: c
      type(c_funptr), value :: pred
      type(c_ptr), value :: arg
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_cond_wait_for
    end function
    function shmpool_cond_notify(c, n) bind(C, name="shmpool_cond_notify")
      import
      type(c_ptr), value :: c
      integer(c_int), value :: n
      integer(c_int) :: shmpool_cond_notify
    end function
    function shmpool_cond_notify_all(c) bind(C, name="shmpool_cond_notify_all")
      import
      type(c_ptr), value :: c
      integer(c_int) :: shmpool_cond_notify_all
    end function

    ! barriers
    function shmpool_barrier_create(b, pool, parties) bind(C, name="shmpool_barrier_create")
      import
      type(c_ptr), intent(out) :: b
      type(c_ptr), value :: pool
      integer(c_int), value :: parties
      integer(c_int) :: shmpool_barrier_create
    end function
    subroutine shmpool_barrier_destroy(b) bind(C, name="shmpool_barrier_destroy")
      import
      type(c_ptr), value :: b
    end subroutine
    function shmpool_barrier_wait(b, timeout_ms) bind(C, name="shmpool_barrier_wait")
      import
      type(c_ptr), value :: b
      integer(c_int), value :: timeout_ms
      integer(c_int) :: shmpool_barrier_wait
    end function
    function shmpool_barrier_reset(b) bind(C, name="shmpool_barrier_reset")
      import
      type(c_ptr), value :: b
      integer(c_int) :: shmpool_barrier_reset
    end function
    function shmpool_barrier_abort(b) bind(C, name="shmpool_barrier_abort")
      import
      type(c_ptr), value :: b
      integer(c_int) :: shmpool_barrier_abort
    end function
    function shmpool_barrier_n_waiting(b) bind(C, name="shmpool_barrier_n_waiting")
      import
      type(c_ptr), value :: b
      integer(c_int) :: shmpool_barrier_n_waiting
    end function
    function shmpool_barrier_parties(b) bind(C, name="shmpool_barrier_parties")
      import
      type(c_ptr), value :: b
      integer(c_int) :: shmpool_barrier_parties
    end function
    function shmpool_barrier_broken(b) bind(C, name="shmpool_barrier_broken")
      import
      type(c_ptr), value :: b
      integer(c_int) :: shmpool_barrier_broken
    end function

    ! shared values and arrays: elements through c_loc of a variable of the dtype's kind
    function shmpool_value_create(v, pool, dtype, count, flags) bind(C, name="shmpool_value_create")
      import
      type(c_ptr), intent(out) :: v
      type(c_ptr), value :: pool
      integer(c_int), value :: dtype
      integer(c_size_t), value :: count
      integer(c_int), value :: flags
      integer(c_int) :: shmpool_value_create
    end function
    subroutine shmpool_value_destroy(v) bind(C, name="shmpool_value_destroy")
      import
      type(c_ptr), value :: v
    end subroutine
    function shmpool_value_get(v, i, out) bind(C, name="shmpool_value_get")
      import
      type(c_ptr), value :: v
      integer(c_size_t), value :: i
      type(c_ptr), value :: out
      integer(c_int) :: shmpool_value_get
    end function
    function shmpool_value_set(v, i, in) bind(C, name="shmpool_value_set")
      import
      type(c_ptr), value :: v
      integer(c_size_t), value :: i
      type(c_ptr), value :: in
      integer(c_int) :: shmpool_value_set
    end function
    function shmpool_value_add(v, i, delta, old) bind(C, name="shmpool_value_add")
      import
      type(c_ptr), value :: v
      integer(c_size_t), value :: i
      type(c_ptr), value :: delta
      type(c_ptr), value :: old
      integer(c_int) :: shmpool_value_add
    end function
    function shmpool_value_data(v) bind(C, name="shmpool_value_data")
      import
      type(c_ptr), value :: v
      type(c_ptr) :: shmpool_value_data
    end function
    !> shmpool_value_lock of C (Python's get_lock): Fortran names are case-blind, so the plain name
    !> is the flag SHMPOOL_VALUE_LOCK here.
    function shmpool_value_get_lock(v) bind(C, name="shmpool_value_lock")
      import
      type(c_ptr), value :: v
      type(c_ptr) :: shmpool_value_get_lock
    end function
    function shmpool_value_count(v) bind(C, name="shmpool_value_count")
      import
      type(c_ptr), value :: v
      integer(c_size_t) :: shmpool_value_count
    end function

    ! libshmpool_fortran: shmpool_alloc with its errno returned (for shmpool_alloc_array)
    function shmpool_fortran_alloc(pool, bytes, mem) bind(C, name="shmpool_fortran_alloc")
      import
      type(c_ptr), value :: pool
      integer(c_size_t), value :: bytes
      type(c_ptr), intent(out) :: mem
      integer(c_int) :: shmpool_fortran_alloc
    end function
  end interface

  !> call shmpool_alloc_array(pool, a, bounds, rc): a => zero-filled shared memory with the
  !> bounds asked for: [lo, hi] (1-d) or [lo1, hi1, lo2, hi2] (2-d); real(c_double), real(c_float),
  !> integer(c_int32_t), integer(c_int64_t). rc gets 0 or -errno (ENOSPC: /dev/shm too small,
  !> ENOMEM, ESHUTDOWN, EINVAL; EOVERFLOW: the size does not fit in c_size_t); without rc, a
  !> failure stops the program with the message.
  interface shmpool_alloc_array
    module procedure alloc_r8_1, alloc_r8_2, alloc_r4_1, alloc_r4_2, alloc_i4_1, alloc_i4_2, alloc_i8_1, alloc_i8_2
  end interface
  !> call shmpool_free_array(pool, a, rc): give it back; a is nullified.
  interface shmpool_free_array
    module procedure free_r8_1, free_r8_2, free_r4_1, free_r4_2, free_i4_1, free_i4_2, free_i8_1, free_i8_2
  end interface

contains

  !> A message for any code (shmpool_strerror).
  function shmpool_strerror(code) result(s)
    integer(c_int), intent(in) :: code
    character(:), allocatable :: s
    s = c_string(shmpool_strerror_c(code))
  end function

  !> numpy's descr ("<f8", ...), "" for an unknown dtype.
  function shmpool_dtype_descr(dtype) result(s)
    integer(c_int), intent(in) :: dtype
    character(:), allocatable :: s
    s = c_string(shmpool_dtype_descr_c(dtype))
  end function

  !> The failing task's message of a job that ended with an error ("" if none).
  function shmpool_result_message(r) result(s)
    type(c_ptr), intent(in) :: r
    character(:), allocatable :: s
    s = c_string(shmpool_result_message_c(r))
  end function

  !> The message of this thread's last synchronous call.
  function shmpool_last_message() result(s)
    character(:), allocatable :: s
    s = c_string(shmpool_last_message_c())
  end function

  !> SHMPOOL_EKILLED(sig) and SHMPOOL_EEXITED(status) of shmpool.h.
  elemental integer(c_int) function shmpool_ekilled(sig)
    integer(c_int), intent(in) :: sig
    shmpool_ekilled = -(SHMPOOL_ERRNO_BASE + 256 + iand(sig, 255))
  end function
  elemental integer(c_int) function shmpool_eexited(status)
    integer(c_int), intent(in) :: status
    shmpool_eexited = -(SHMPOOL_ERRNO_BASE + 512 + iand(status, 255))
  end function

  function c_string(p) result(s)
    type(c_ptr), intent(in) :: p
    character(:), allocatable :: s
    integer, parameter :: longest = 4096 ! the library's messages are far shorter
    character(kind=c_char), pointer :: chars(:)
    integer :: n
    if (.not. c_associated(p)) then
      s = ''
      return
    end if
    call c_f_pointer(p, chars, [longest])
    n = 0
    do while (n < longest)
      if (chars(n + 1) == c_null_char) exit
      n = n + 1
    end do
    allocate(character(n) :: s)
    do n = 1, len(s)
      s(n:n) = chars(n)
    end do
  end function

  ! Bytes for the extents n (an empty one counts as one element: shmpool_alloc takes no 0), or -1
  ! if that does not fit in c_size_t.
  pure integer(c_size_t) function nbytes(n, elem)
    integer(c_size_t), intent(in) :: n(:), elem
    integer :: i
    nbytes = elem
    do i = 1, size(n)
      if (n(i) > 1 .and. nbytes > huge(nbytes) / n(i)) then
        nbytes = -1
        return
      end if
      nbytes = nbytes * max(1_c_size_t, n(i))
    end do
  end function

  pure integer(c_size_t) function extent(lo, hi)
    integer, intent(in) :: lo, hi
    extent = int(max(0, hi - lo + 1), c_size_t)
  end function

  subroutine report(r, rc, what)
    integer(c_int), intent(in) :: r
    integer, intent(out), optional :: rc
    character(*), intent(in) :: what
    if (present(rc)) then
      rc = r
    else if (r /= 0) then
      write (error_unit, '(a, ": ", a)') what, shmpool_strerror(r)
      error stop 1
    end if
  end subroutine

  subroutine alloc_r8_1(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    real(c_double), pointer, intent(out) :: a(:)
    integer, intent(in) :: bounds(2)
    integer, intent(out), optional :: rc
    real(c_double), pointer :: flat(:)
    real(c_double) :: elem
    integer(c_size_t) :: n(1)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):) => flat
  end subroutine

  subroutine free_r8_1(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    real(c_double), pointer, intent(inout) :: a(:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_r8_2(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    real(c_double), pointer, intent(out) :: a(:,:)
    integer, intent(in) :: bounds(4)
    integer, intent(out), optional :: rc
    real(c_double), pointer :: flat(:,:)
    real(c_double) :: elem
    integer(c_size_t) :: n(2)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    n(2) = extent(bounds(3), bounds(4))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):, bounds(3):) => flat
  end subroutine

  subroutine free_r8_2(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    real(c_double), pointer, intent(inout) :: a(:,:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1), lbound(a, 2))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_r4_1(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    real(c_float), pointer, intent(out) :: a(:)
    integer, intent(in) :: bounds(2)
    integer, intent(out), optional :: rc
    real(c_float), pointer :: flat(:)
    real(c_float) :: elem
    integer(c_size_t) :: n(1)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):) => flat
  end subroutine

  subroutine free_r4_1(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    real(c_float), pointer, intent(inout) :: a(:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_r4_2(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    real(c_float), pointer, intent(out) :: a(:,:)
    integer, intent(in) :: bounds(4)
    integer, intent(out), optional :: rc
    real(c_float), pointer :: flat(:,:)
    real(c_float) :: elem
    integer(c_size_t) :: n(2)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    n(2) = extent(bounds(3), bounds(4))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):, bounds(3):) => flat
  end subroutine

  subroutine free_r4_2(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    real(c_float), pointer, intent(inout) :: a(:,:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1), lbound(a, 2))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_i4_1(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int32_t), pointer, intent(out) :: a(:)
    integer, intent(in) :: bounds(2)
    integer, intent(out), optional :: rc
    integer(c_int32_t), pointer :: flat(:)
    integer(c_int32_t) :: elem
    integer(c_size_t) :: n(1)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):) => flat
  end subroutine

  subroutine free_i4_1(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int32_t), pointer, intent(inout) :: a(:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_i4_2(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int32_t), pointer, intent(out) :: a(:,:)
    integer, intent(in) :: bounds(4)
    integer, intent(out), optional :: rc
    integer(c_int32_t), pointer :: flat(:,:)
    integer(c_int32_t) :: elem
    integer(c_size_t) :: n(2)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    n(2) = extent(bounds(3), bounds(4))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):, bounds(3):) => flat
  end subroutine

  subroutine free_i4_2(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int32_t), pointer, intent(inout) :: a(:,:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1), lbound(a, 2))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_i8_1(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int64_t), pointer, intent(out) :: a(:)
    integer, intent(in) :: bounds(2)
    integer, intent(out), optional :: rc
    integer(c_int64_t), pointer :: flat(:)
    integer(c_int64_t) :: elem
    integer(c_size_t) :: n(1)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):) => flat
  end subroutine

  subroutine free_i8_1(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int64_t), pointer, intent(inout) :: a(:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
  subroutine alloc_i8_2(pool, a, bounds, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int64_t), pointer, intent(out) :: a(:,:)
    integer, intent(in) :: bounds(4)
    integer, intent(out), optional :: rc
    integer(c_int64_t), pointer :: flat(:,:)
    integer(c_int64_t) :: elem
    integer(c_size_t) :: n(2)
    type(c_ptr) :: mem
    integer(c_int) :: r
    nullify(a)
    n(1) = extent(bounds(1), bounds(2))
    n(2) = extent(bounds(3), bounds(4))
    r = SHMPOOL_EOVERFLOW
    if (nbytes(n, int(storage_size(elem) / 8, c_size_t)) >= 0) &
      r = shmpool_fortran_alloc(pool, nbytes(n, int(storage_size(elem) / 8, c_size_t)), mem)
    call report(r, rc, 'shmpool_alloc_array')
    if (r /= 0) return
    call c_f_pointer(mem, flat, n)
    a(bounds(1):, bounds(3):) => flat
  end subroutine

  subroutine free_i8_2(pool, a, rc)
    type(c_ptr), intent(in) :: pool
    integer(c_int64_t), pointer, intent(inout) :: a(:,:)
    integer, intent(out), optional :: rc
    integer(c_int) :: r
    r = 0
    if (associated(a)) r = shmpool_free(pool, c_loc(a(lbound(a, 1), lbound(a, 2))))
    call report(r, rc, 'shmpool_free_array')
    if (r == 0) nullify(a)
  end subroutine
end module shmpool
