! Every interface of the shmpool module called once (the bind(C) declarations match the C
! functions: wrong ones crash or give wrong values here), the options type's size against C's,
! and the library's codes against the C table.
module callbacks
  use shmpool
  implicit none
contains
  integer(c_int) function start_worker(arg) bind(C)
    type(c_ptr), value :: arg
    start_worker = merge(0, -22, c_associated(arg))
  end function

  integer(c_int) function twice(in, out, ctx) bind(C)
    type(c_ptr), value :: in, out, ctx
    real(c_double), pointer :: x, y
    call c_f_pointer(in, x)
    call c_f_pointer(out, y)
    y = 2 * x
    twice = 0
    if (c_associated(ctx)) twice = -22
  end function

  integer(c_int) function scaled(in, out, ctx) bind(C)   ! ctx by value: one double
    type(c_ptr), value :: in, out, ctx
    real(c_double), pointer :: x, y, s
    call c_f_pointer(in, x)
    call c_f_pointer(out, y)
    call c_f_pointer(ctx, s)
    y = s * x
    scaled = 0
  end function

  integer(c_int) function times_k(args, out, ctx) bind(C) ! columns: real(c_double), integer(c_int32_t)
    type(c_ptr), intent(in) :: args(*)
    type(c_ptr), value :: out, ctx
    real(c_double), pointer :: x, y
    integer(c_int32_t), pointer :: k
    call c_f_pointer(args(1), x)
    call c_f_pointer(args(2), k)
    call c_f_pointer(out, y)
    y = x * k
    times_k = 0
    if (c_associated(ctx)) continue
  end function

  integer(c_int) function mark(ctx, b, e) bind(C)        ! ctx: an int32 array in shmpool memory
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    integer(c_int32_t), pointer :: m(:)
    integer(c_size_t) :: i
    call c_f_pointer(ctx, m, [e])
    do i = b + 1, e                                    ! [b, e) zero-based: b+1 .. e
      m(i) = m(i) + 1
    end do
    mark = 0
  end function

  integer(c_int) function mark_ptr(ctx, b, e) bind(C)    ! ctx by value: a c_ptr to the array
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    type(c_ptr), pointer :: p
    call c_f_pointer(ctx, p)
    mark_ptr = mark(p, b, e)
  end function

  integer(c_int) function mark_id(ctx, b, e, id) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    type(shmpool_chunk_id), intent(in) :: id
    type(c_ptr), pointer :: p
    integer(c_int32_t), pointer :: m(:)
    call c_f_pointer(ctx, p)
    call c_f_pointer(p, m, [e])
    m(b + 1:e) = int(id%index, c_int32_t) + 1
    mark_id = merge(0, -22, id%worker < id%workers .and. id%count > 0)
  end function

  integer(c_int) function sum_range(ctx, b, e, partial) bind(C)
    type(c_ptr), value :: ctx, partial
    integer(c_size_t), value :: b, e
    real(c_double), pointer :: acc
    integer(c_size_t) :: i
    call c_f_pointer(partial, acc)
    do i = b, e - 1
      acc = acc + real(i, c_double)
    end do
    sum_range = 0
    if (c_associated(ctx)) sum_range = -22
  end function

  subroutine add(acc, partial, ctx) bind(C)
    type(c_ptr), value :: acc, partial, ctx
    real(c_double), pointer :: a, p
    call c_f_pointer(acc, a)
    call c_f_pointer(partial, p)
    a = a + p
    if (c_associated(ctx)) a = -1
  end subroutine

  integer(c_int) function fail_saying_why(ctx, b, e) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    fail_saying_why = shmpool_task_fail_message('chunk ' // achar(48 + int(b)) // ' failed' // c_null_char)
    if (fail_saying_why == 0) fail_saying_why = -5
    if (c_associated(ctx) .or. e < b) fail_saying_why = 0
  end function

  integer(c_int) function sleepy(ctx, b, e) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    integer :: t0, t1, rate
    call system_clock(t0, rate)
    do
      call system_clock(t1)
      if (t1 - t0 > rate / 20) exit
    end do
    sleepy = 0
    if (c_associated(ctx) .or. e < b) sleepy = -22
  end function

  integer(c_int) function add_rows(ctx, rows, b, e) bind(C)  ! ctx: a shmpool_value of one F8
    type(c_ptr), value :: ctx, rows
    integer(c_size_t), value :: b, e
    real(c_double), pointer :: x(:)
    real(c_double), target :: part
    call c_f_pointer(rows, x, [e - b])
    part = sum(x)
    add_rows = shmpool_value_add(ctx, 0_c_size_t, c_loc(part), c_null_ptr)
  end function

  integer(c_int) function sum_rows(ctx, rows, b, e, partial) bind(C)
    type(c_ptr), value :: ctx, rows, partial
    integer(c_size_t), value :: b, e
    real(c_double), pointer :: x(:), acc
    call c_f_pointer(rows, x, [e - b])
    call c_f_pointer(partial, acc)
    acc = sum(x)
    sum_rows = 0
    if (c_associated(ctx)) sum_rows = -22
  end function

  subroutine count_done(r, arg) bind(C)                  ! arg: an int in parent memory
    type(c_ptr), value :: r, arg
    integer(c_int), pointer :: n
    call c_f_pointer(arg, n)
    n = n + 1
    if (.not. c_associated(r)) n = -100
  end subroutine

  subroutine count_error(r, code, index, arg) bind(C)
    type(c_ptr), value :: r, arg
    integer(c_int), value :: code
    integer(c_size_t), value :: index
    integer(c_int), pointer :: n
    call c_f_pointer(arg, n)
    n = -1000
    if (c_associated(r) .and. code == 0 .and. index == 0) n = -1001
  end subroutine

  integer(c_int) function always(arg) bind(C)
    type(c_ptr), value :: arg
    always = 1
    if (c_associated(arg)) always = 0
  end function

  integer(c_int) function child_main(arg) bind(C)
    type(c_ptr), value :: arg
    child_main = 7
    if (c_associated(arg)) child_main = 1
  end function
end module

program test_interfaces
  use shmpool
  use callbacks
  implicit none
  interface
    function c_sizeof_of(which) bind(C, name="shmpool_test_sizeof")
      import
      integer(c_int), value :: which
      integer(c_size_t) :: c_sizeof_of
    end function
    function c_code(name) bind(C, name="shmpool_test_code")
      import
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int) :: c_code
    end function
    function c_ncodes() bind(C, name="shmpool_test_ncodes")
      import
      integer(c_int) :: c_ncodes
    end function
  end interface
  integer :: nfail = 0
  type(c_ptr) :: pool, r, mem, proc, q
  type(shmpool_options), target :: opt
  type(shmpool_array) :: arr, st
  type(shmpool_chunk_id) :: id
  type(shmpool_stream_options), target :: sopt
  type(c_ptr) :: rs(1), lk, rl, sem, ev, cv, bar, val
  integer(c_size_t) :: b, e, seen
  integer(c_int), target :: ndone
  integer(c_int64_t), target :: i8, old8
  integer(c_int64_t), pointer :: vdata(:)
  character(len=*), parameter :: path2 = '/tmp/shmpool-fortran-test-out.npy'
  real(c_double), pointer :: x(:), y(:), g(:, :), acc
  integer(c_int32_t), pointer :: k(:), m(:)
  integer(c_int64_t), pointer :: big(:)
  real(c_float), pointer :: f2(:, :)
  integer(c_int32_t), pointer :: i2(:, :)
  integer(c_int64_t), pointer :: l2(:, :)
  real(c_float), pointer :: f1(:)
  type(c_ptr), target :: cols(2), mp
  integer(c_size_t), target :: sizes(2)
  integer(c_size_t) :: idx, done, total, csize, nchunks, got
  real(c_double), target :: s, total_sum, one
  integer(c_int) :: rc, code
  integer :: frc, i
  integer(c_int), target :: seed
  character(kind=c_char, len=200) :: line
  character(kind=c_char), target :: msg(16), buf(16)
  character(len=*), parameter :: path = '/tmp/shmpool-fortran-test.npy'
  integer(c_size_t), parameter :: n = 100

  ! types and codes: as C sees them
  call check(c_sizeof(opt) == c_sizeof_of(0), 'sizeof(shmpool_options) as in C')
  call check(c_sizeof(id) == c_sizeof_of(2), 'sizeof(shmpool_chunk_id) as in C')
  call check(c_sizeof(arr) == c_sizeof_of(3), 'sizeof(shmpool_array) as in C')
  call check(loc_offset_reserved() == c_sizeof_of(1), 'offset of reserved_ as in C')
  call check(transfer(c_loc(opt%arena_bytes), 0_c_size_t) - transfer(c_loc(opt), 0_c_size_t) == &
             c_sizeof_of(4), 'offset of arena_bytes as in C')
  call check(c_sizeof(sopt) == c_sizeof_of(5), 'sizeof(shmpool_stream_options) as in C')
  call check(transfer(c_loc(sopt%first_row), 0_c_size_t) - transfer(c_loc(sopt), 0_c_size_t) == &
             c_sizeof_of(6), 'offset of stream first_row as in C')
  call check(transfer(c_loc(sopt%reserved_), 0_c_size_t) - transfer(c_loc(sopt), 0_c_size_t) == &
             c_sizeof_of(7), 'offset of stream reserved_ as in C')
  call check(c_ncodes() == 9, 'the module knows every library code (add new ones to shmpool.f90)')
  call check(c_code('EHELPER'//c_null_char) == SHMPOOL_EHELPER, 'EHELPER as in C')
  call check(c_code('EPEER'//c_null_char) == SHMPOOL_EPEER, 'EPEER as in C')
  call check(c_code('EMISMATCH'//c_null_char) == SHMPOOL_EMISMATCH, 'EMISMATCH as in C')
  call check(c_code('EMAP'//c_null_char) == SHMPOOL_EMAP, 'EMAP as in C')
  call check(c_code('ESTALE'//c_null_char) == SHMPOOL_ESTALE, 'ESTALE as in C')
  call check(c_code('ETASKEXC'//c_null_char) == SHMPOOL_ETASKEXC, 'ETASKEXC as in C')
  call check(c_code('EBROKEN'//c_null_char) == SHMPOOL_EBROKEN, 'EBROKEN as in C')
  call check(c_code('EFILECHANGED'//c_null_char) == SHMPOOL_EFILECHANGED, 'EFILECHANGED as in C')
  call check(c_code('EBUDGET'//c_null_char) == SHMPOOL_EBUDGET, 'EBUDGET as in C')

  call check(shmpool_version() == 256 * SHMPOOL_VERSION_MINOR + SHMPOOL_VERSION_PATCH + &
             65536 * SHMPOOL_VERSION_MAJOR, 'shmpool_version')
  call check(shmpool_error_signal(shmpool_ekilled(9)) == 9, 'shmpool_error_signal')
  call check(shmpool_error_exit_status(shmpool_eexited(3)) == 3, 'shmpool_error_exit_status')
  call check(index(shmpool_strerror(SHMPOOL_EINVAL), 'nvalid') > 0, 'shmpool_strerror: ' // &
             shmpool_strerror(SHMPOOL_EINVAL))
  call check(shmpool_cpu_count(SHMPOOL_CPU_USABLE) > 0, 'shmpool_cpu_count')

  seed = 1
  opt%workers = 2
  opt%flags = SHMPOOL_FLAG_QUIET
  opt%initializer = c_funloc(start_worker)
  opt%initializer_arg = c_loc(seed)
  call check(shmpool_create(pool, opt) == 0, 'shmpool_create')
  call check(shmpool_workers(pool) == 2, 'shmpool_workers')
  mem = shmpool_alloc(pool, 1000_c_size_t)
  call check(shmpool_alloc_size(pool, mem) >= 1000, 'shmpool_alloc, shmpool_alloc_size')
  call check(shmpool_free(pool, mem) == 0, 'shmpool_free')

  call shmpool_alloc_array(pool, x, [0, int(n) - 1], frc)
  call check(frc == 0 .and. lbound(x, 1) == 0 .and. ubound(x, 1) == n - 1, 'alloc_array 1-d bounds')
  call shmpool_alloc_array(pool, y, [1, int(n)], frc)
  call shmpool_alloc_array(pool, k, [1, int(n)], frc)
  call shmpool_alloc_array(pool, m, [1, int(n)], frc)
  call shmpool_alloc_array(pool, big, [1, 3])
  call shmpool_alloc_array(pool, f1, [-2, 2])
  call shmpool_alloc_array(pool, g, [0, 9, -1, 5], frc)
  call check(frc == 0 .and. all(lbound(g) == [0, -1]) .and. all(ubound(g) == [9, 5]), &
             'alloc_array 2-d bounds')
  call shmpool_alloc_array(pool, f2, [1, 2, 1, 2])
  call shmpool_alloc_array(pool, i2, [1, 2, 1, 2])
  call shmpool_alloc_array(pool, l2, [1, 2, 1, 2])
  call check(all(g == 0) .and. all(big == 0) .and. all(f1 == 0), 'alloc_array memory zero-filled')
  call shmpool_free_array(pool, g, frc)
  call check(frc == 0 .and. .not. associated(g), 'free_array')
  call shmpool_free_array(pool, f2)
  call shmpool_free_array(pool, i2)
  call shmpool_free_array(pool, l2)
  call shmpool_free_array(pool, f1)
  call shmpool_free_array(pool, big)
  call shmpool_alloc_array(pool, g, [1, huge(1), 1, huge(1)], frc)
  call check(frc == SHMPOOL_EOVERFLOW .and. .not. associated(g), 'alloc_array whose size overflows: ' // &
             shmpool_strerror(frc))
  call shmpool_alloc_array(pool, g, [1, huge(1), 1, 2**26], frc)
  call check(frc == SHMPOOL_ENOMEM .or. frc == SHMPOOL_ENOSPC, 'alloc_array too big: rc ' // &
             shmpool_strerror(frc))

  do i = 0, int(n) - 1
    x(i) = i
    k(i + 1) = int(mod(i, 3), c_int32_t)
  end do
  ! map, starmap, apply; and their async forms with every result call
  rc = shmpool_map(pool, c_funloc(twice), c_null_ptr, c_loc(x), 8_c_size_t, c_loc(y), 8_c_size_t, n, 0_c_size_t)
  call check(rc == 0 .and. y(n) == 2 * (n - 1), 'shmpool_map')
  y = 0
  rc = shmpool_map_async(pool, c_funloc(twice), c_null_ptr, c_loc(x), 8_c_size_t, c_loc(y), &
                         8_c_size_t, n, 7_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0 .and. y(3) == 4, 'shmpool_map_async, get')
  call check(shmpool_result_ready(r) == 1, 'shmpool_result_ready')
  call check(shmpool_result_error(r, idx) == 0, 'shmpool_result_error')
  call shmpool_result_progress(r, done, total)
  call check(done == n .and. total == n, 'shmpool_result_progress')
  call check(shmpool_result_message(r) == '', 'shmpool_result_message of a success')
  call shmpool_result_free(r)
  cols = [c_loc(x), c_loc(k)]
  sizes = [8_c_size_t, 4_c_size_t]
  rc = shmpool_starmap(pool, c_funloc(times_k), c_null_ptr, 2_c_size_t, cols, sizes, c_loc(y), 8_c_size_t, n, 0_c_size_t)
  call check(rc == 0 .and. y(6) == 5 * 2, 'shmpool_starmap')
  rc = shmpool_starmap_async(pool, c_funloc(times_k), c_null_ptr, 2_c_size_t, cols, sizes, &
                             c_loc(y), 8_c_size_t, n, 0_c_size_t, r)
  if (rc == 0) rc = shmpool_progress_wait(r, 'starmap'//c_null_char, SHMPOOL_PROGRESS_NEVER)
  call check(rc == 0, &
             'shmpool_starmap_async, shmpool_progress_wait')
  call shmpool_result_free(r)
  one = 21
  rc = shmpool_apply(pool, c_funloc(twice), c_null_ptr, c_loc(one), 8_c_size_t, c_loc(s), 8_c_size_t)
  call check(rc == 0 .and. s == 42, 'shmpool_apply')
  rc = shmpool_apply_async(pool, c_funloc(twice), c_null_ptr, c_loc(one), 8_c_size_t, c_loc(s), &
                           8_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_apply_async')
  call shmpool_result_free(r)

  ! for and its forms: every index once
  m = 0
  call check(shmpool_for(pool, c_funloc(mark), c_loc(m), n, 0_c_size_t) == 0, 'shmpool_for')
  rc = shmpool_for_async(pool, c_funloc(mark), c_loc(m), n, 3_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_for_async')
  call shmpool_result_free(r)
  mp = c_loc(m)
  call check(shmpool_for_ctx(pool, c_funloc(mark_ptr), c_loc(mp), c_sizeof(mp), n, 0_c_size_t) == 0, &
             'shmpool_for_ctx')
  rc = shmpool_for_ctx_async(pool, c_funloc(mark_ptr), c_loc(mp), c_sizeof(mp), n, 0_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_for_ctx_async')
  call shmpool_result_free(r)
  call check(all(m == 4), 'for: every index exactly once per call')
  rc = shmpool_for_with_id(pool, c_funloc(mark_id), c_loc(mp), c_sizeof(mp), n, 10_c_size_t)
  call check(rc == 0 .and. m(11) == 2 .and. m(100) == 10, 'shmpool_for_with_id')
  rc = shmpool_for_with_id_async(pool, c_funloc(mark_id), c_loc(mp), c_sizeof(mp), n, 10_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_for_with_id_async')
  call shmpool_result_free(r)

  ! the _ctx forms of map, starmap, apply: ctx by value
  s = 3
  rc = shmpool_map_ctx(pool, c_funloc(scaled), c_loc(s), 8_c_size_t, c_loc(x), 8_c_size_t, c_loc(y), 8_c_size_t, n, 0_c_size_t)
  call check(rc == 0 .and. y(n) == 3 * (n - 1), 'shmpool_map_ctx')
  rc = shmpool_map_ctx_async(pool, c_funloc(scaled), c_loc(s), 8_c_size_t, c_loc(x), 8_c_size_t, &
                             c_loc(y), 8_c_size_t, n, 0_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_map_ctx_async')
  call shmpool_result_free(r)
  call check(shmpool_starmap_ctx(pool, c_funloc(times_k), c_null_ptr, 0_c_size_t, 2_c_size_t, cols, &
             sizes, c_loc(y), 8_c_size_t, n, 0_c_size_t) == 0, 'shmpool_starmap_ctx')
  rc = shmpool_starmap_ctx_async(pool, c_funloc(times_k), c_null_ptr, 0_c_size_t, 2_c_size_t, cols, &
                                 sizes, c_loc(y), 8_c_size_t, n, 0_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_starmap_ctx_async')
  call shmpool_result_free(r)
  rc = shmpool_apply_ctx(pool, c_funloc(scaled), c_loc(s), 8_c_size_t, c_loc(one), 8_c_size_t, c_loc(total_sum), 8_c_size_t)
  call check(rc == 0 .and. total_sum == 63, 'shmpool_apply_ctx')
  rc = shmpool_apply_ctx_async(pool, c_funloc(scaled), c_loc(s), 8_c_size_t, c_loc(one), 8_c_size_t, &
                               c_loc(total_sum), 8_c_size_t, r)
  if (rc == 0) rc = shmpool_result_get(r, -1)
  call check(rc == 0, 'shmpool_apply_ctx_async')
  call shmpool_result_free(r)

  ! reduce, chunking, worker index
  total_sum = 0
  rc = shmpool_reduce(pool, c_funloc(sum_range), c_funloc(add), c_null_ptr, 0_c_size_t, n, 0_c_size_t, c_loc(total_sum), 8_c_size_t)
  call check(rc == 0 .and. total_sum == 4950, 'shmpool_reduce')
  rc = shmpool_chunking(pool, n, 0_c_size_t, 1, csize, nchunks)
  call check(rc == 0 .and. csize * nchunks >= n, 'shmpool_chunking')
  call check(shmpool_worker_index() == -1, 'shmpool_worker_index outside a task')

  ! messages and cancel
  call check(shmpool_task_fail_message('x'//c_null_char) /= 0, 'shmpool_task_fail_message outside a task')
  rc = shmpool_for(pool, c_funloc(fail_saying_why), c_null_ptr, 5_c_size_t, 1_c_size_t)
  call check(rc == -5, 'shmpool_for of a failing task')
  call check(shmpool_last_message() == 'chunk 0 failed', 'shmpool_last_message')
  rc = shmpool_for_async(pool, c_funloc(fail_saying_why), c_null_ptr, 5_c_size_t, 1_c_size_t, r)
  rc = shmpool_result_get(r, -1)
  code = shmpool_result_error(r, idx)
  call check(rc == -5 .and. code == -5 .and. idx == 0, 'shmpool_result_error')
  call check(shmpool_result_message(r) == 'chunk 0 failed', 'shmpool_result_message')
  call shmpool_result_free(r)
  rc = shmpool_for_async(pool, c_funloc(sleepy), c_null_ptr, 40_c_size_t, 1_c_size_t, r)
  if (rc == 0) rc = shmpool_result_cancel(r)
  if (rc == 0) rc = shmpool_result_get(r, 0)
  call check(rc == SHMPOOL_ECANCELED, &
             'shmpool_result_cancel')
  call shmpool_result_free(r)
  rc = shmpool_progress_format(line, int(len(line), c_size_t), 'x'//c_null_char, 5_c_size_t, 10_c_size_t, 1.0_c_double, 40)
  call check(rc > 0 .and. index(line, '50%') > 0, 'shmpool_progress_format')

  ! processes and queues
  call check(shmpool_process_start(proc, c_funloc(child_main), c_null_ptr) == 0, 'shmpool_process_start')
  call check(shmpool_process_pid(proc) > 0, 'shmpool_process_pid')
  call check(shmpool_process_join(proc, -1) == 0, 'shmpool_process_join')
  rc = shmpool_process_exitcode(proc, code)
  call check(rc == 0 .and. code == 7, 'shmpool_process_exitcode')
  call check(shmpool_process_terminate(proc) == 0, 'shmpool_process_terminate')
  call shmpool_process_free(proc)
  call check(shmpool_queue_create(q, pool, 4_c_size_t, 16_c_size_t) == 0, 'shmpool_queue_create')
  msg = transfer('hello, queue!   ', msg)
  call check(shmpool_queue_put(q, c_loc(msg), 13_c_size_t, -1) == 0, 'shmpool_queue_put')
  call check(shmpool_queue_size(q) == 1, 'shmpool_queue_size')
  rc = shmpool_queue_get(q, c_loc(buf), 16_c_size_t, got, -1)
  call check(rc == 0 .and. got == 13 .and. all(buf(1:13) == msg(1:13)), 'shmpool_queue_get')
  call shmpool_queue_destroy(q)

  ! arrays
  call check(shmpool_dtype_size(SHMPOOL_F8) == 8, 'shmpool_dtype_size')
  call check(shmpool_dtype_descr(SHMPOOL_F8) == '<f8', 'shmpool_dtype_descr')
  arr%data = c_loc(x)
  arr%dtype = SHMPOOL_F8
  arr%ndim = 1
  arr%shape(1) = n
  arr%count = n
  arr%nbytes = 8 * n
  call check(shmpool_array_save(pool, path//c_null_char, arr) == 0, 'shmpool_array_save')
  rc = shmpool_array_stat(path//c_null_char, st)
  call check(rc == 0 .and. st%shape(1) == n, 'shmpool_array_stat')
  call check(shmpool_array_load(pool, path//c_null_char, st) == 0, 'shmpool_array_load')
  call c_f_pointer(st%data, acc)
  call shmpool_array_free(pool, st)
  rc = shmpool_array_load_rows(pool, path//c_null_char, 10_c_size_t, 5_c_size_t, st)
  call check(rc == 0 .and. st%shape(1) == 5, 'shmpool_array_load_rows')
  call c_f_pointer(st%data, acc)
  call check(acc == 10, 'load_rows reads row 10 first')
  call shmpool_array_free(pool, st)
  rc = shmpool_array_load_raw(pool, path//c_null_char, SHMPOOL_U1, st)
  call check(rc == 0 .and. st%count > 8 * n, 'shmpool_array_load_raw')
  call shmpool_array_free(pool, st)

  ! streaming the file just saved (x: 0 .. 99): for (a Value's add from the workers), map, reduce
  sopt%chunk = 7
  call check(shmpool_value_create(val, pool, SHMPOOL_F8, 1_c_size_t, 0) == 0, 'shmpool_value_create F8')
  rc = shmpool_stream_for(pool, path//c_null_char, c_funloc(add_rows), val, sopt, idx)
  s = 0
  if (rc == 0) rc = shmpool_value_get(val, 0_c_size_t, c_loc(s))
  call check(rc == 0 .and. s == 4950 .and. idx == -1, 'shmpool_stream_for: ' // shmpool_strerror(rc))
  call shmpool_value_destroy(val)
  rc = shmpool_stream_map(pool, path//c_null_char, path2//c_null_char, c_funloc(twice), c_null_ptr, &
                          8_c_size_t, sopt, idx)
  if (rc == 0) rc = shmpool_array_load(pool, path2//c_null_char, st)
  call check(rc == 0, 'shmpool_stream_map: ' // shmpool_strerror(rc))
  if (rc == 0) then
    call c_f_pointer(st%data, y, [n])
    call check(st%shape(1) == n .and. y(n) == 198, 'shmpool_stream_map wrote 2 x')
    call shmpool_array_free(pool, st)
  end if
  call shmpool_alloc_array(pool, y, [1, int(n)])
  total_sum = 1
  rc = shmpool_stream_reduce(pool, path//c_null_char, c_funloc(sum_rows), c_funloc(add), c_null_ptr, &
                             c_loc(total_sum), 8_c_size_t, sopt, idx)
  call check(rc == 0 .and. total_sum == 4951, 'shmpool_stream_reduce: ' // shmpool_strerror(rc))
  sopt%reserved_(4) = 1
  rc = shmpool_stream_for(pool, path//c_null_char, c_funloc(add_rows), c_null_ptr, sopt, idx)
  call check(rc == SHMPOOL_EINVAL, 'shmpool_stream_options: nonzero reserved_ is EINVAL')
  open (unit=11, file=path2)
  close (11, status='delete')
  open (unit=11, file=path)
  close (11, status='delete')

  ! results as they complete
  m = 0
  rc = shmpool_imap_for(pool, c_funloc(mark), c_loc(m), n, 10_c_size_t, r)
  seen = 0
  do while (rc == 0)
    rc = shmpool_result_next(r, 0, b, e, -1)
    if (rc == 0) then
      if (b /= seen .or. any(m(b + 1:e) /= 1)) exit   ! in input order, each range finished
      seen = e
    end if
  end do
  call check(rc == SHMPOOL_ENODATA .and. seen == n, 'shmpool_imap_for, shmpool_result_next in order')
  call shmpool_result_free(r)
  rc = shmpool_imap(pool, c_funloc(twice), c_null_ptr, c_loc(x), 8_c_size_t, c_loc(y), 8_c_size_t, &
                    n, 10_c_size_t, r)
  seen = 0
  do while (rc == 0)
    rc = shmpool_result_next(r, SHMPOOL_NEXT_UNORDERED, b, e, -1)
    if (rc == 0) seen = seen + (e - b)
  end do
  call check(rc == SHMPOOL_ENODATA .and. seen == n .and. y(n) == 2 * (n - 1), &
             'shmpool_imap, shmpool_result_next unordered')
  call shmpool_result_free(r)
  rc = shmpool_imap_starmap(pool, c_funloc(times_k), c_null_ptr, 2_c_size_t, cols, sizes, c_loc(y), &
                            8_c_size_t, n, 0_c_size_t, r)
  rs(1) = r
  if (rc == 0) rc = shmpool_wait_all(rs, 1_c_size_t, -1)
  call check(rc == 0 .and. y(6) == 5 * 2, 'shmpool_imap_starmap, shmpool_wait_all')
  call check(shmpool_result_ready(r) == 1, 'shmpool_wait_all: the result is ready')
  call shmpool_result_free(r)
  ndone = 0
  rc = shmpool_for_async(pool, c_funloc(mark), c_loc(m), n, 0_c_size_t, r)
  if (rc == 0) rc = shmpool_result_on_done(r, c_funloc(count_done), c_funloc(count_error), c_loc(ndone))
  rs(1) = r
  idx = 5
  if (rc == 0) rc = shmpool_wait_any(rs, 1_c_size_t, -1, idx)
  call check(rc == 0 .and. idx == 0 .and. ndone == 1, 'shmpool_result_on_done, shmpool_wait_any')
  call check(shmpool_poll(pool, 0) == 0, 'shmpool_poll with nothing due')
  call shmpool_result_free(r)

  ! synchronisation objects (one call a statement: Fortran may skip the right side of an .and.)
  call check(shmpool_lock_create(lk, pool) == 0, 'shmpool_lock_create')
  call check(shmpool_lock_acquire(lk, -1) == 0, 'shmpool_lock_acquire')
  call check(shmpool_lock_locked(lk) == 1, 'shmpool_lock_locked')
  call check(shmpool_lock_acquire(lk, 0) == SHMPOOL_EDEADLK, 'shmpool_lock_acquire by its holder')
  call check(shmpool_lock_consistent(lk) == SHMPOOL_EINVAL, 'shmpool_lock_consistent of a sound lock')
  call check(shmpool_lock_release(lk) == 0, 'shmpool_lock_release')
  call check(shmpool_lock_locked(lk) == 0, 'shmpool_lock_locked after release')
  call check(shmpool_lock_release(lk) == SHMPOOL_EPERM, 'shmpool_lock_release when not held')
  call shmpool_lock_destroy(lk)
  call check(shmpool_rlock_create(rl, pool) == 0, 'shmpool_rlock_create')
  call check(shmpool_rlock_acquire(rl, -1) == 0, 'shmpool_rlock_acquire')
  call check(shmpool_rlock_acquire(rl, 0) == 0, 'shmpool_rlock_acquire by its holder')
  call check(shmpool_rlock_consistent(rl) == SHMPOOL_EINVAL, 'shmpool_rlock_consistent')
  call check(shmpool_rlock_release(rl) == 0, 'shmpool_rlock_release')
  call check(shmpool_rlock_release(rl) == 0, 'shmpool_rlock_release, second level')
  call check(shmpool_rlock_release(rl) == SHMPOOL_EPERM, 'shmpool_rlock_release once too often')
  call shmpool_rlock_destroy(rl)
  call check(shmpool_sem_create(sem, pool, 1, SHMPOOL_SEM_BOUNDED) == 0, 'shmpool_sem_create')
  call check(shmpool_sem_acquire(sem, -1) == 0, 'shmpool_sem_acquire')
  call check(shmpool_sem_value(sem) == 0, 'shmpool_sem_value')
  call check(shmpool_sem_acquire(sem, 0) == SHMPOOL_ETIMEDOUT, 'shmpool_sem_acquire of none')
  call check(shmpool_sem_release(sem) == 0, 'shmpool_sem_release')
  call check(shmpool_sem_release(sem) == SHMPOOL_EOVERFLOW, 'SHMPOOL_SEM_BOUNDED')
  call shmpool_sem_destroy(sem)
  call check(shmpool_sem_create(sem, pool, SHMPOOL_SEM_VALUE_MAX, 0) == 0, 'SHMPOOL_SEM_VALUE_MAX')
  call shmpool_sem_destroy(sem)
  call check(shmpool_event_create(ev, pool) == 0, 'shmpool_event_create')
  call check(shmpool_event_is_set(ev) == 0, 'shmpool_event_is_set of a new event')
  call check(shmpool_event_set(ev) == 0, 'shmpool_event_set')
  call check(shmpool_event_is_set(ev) == 1, 'shmpool_event_is_set')
  call check(shmpool_event_wait(ev, 0) == 0, 'shmpool_event_wait of a set event')
  call check(shmpool_event_clear(ev) == 0, 'shmpool_event_clear')
  call check(shmpool_event_wait(ev, 0) == SHMPOOL_ETIMEDOUT, 'shmpool_event_wait of a clear event')
  call shmpool_event_destroy(ev)
  call check(shmpool_cond_create(cv, pool, c_null_ptr) == 0, 'shmpool_cond_create')
  lk = shmpool_cond_lock(cv)
  call check(shmpool_lock_acquire(lk, -1) == 0, 'shmpool_cond_lock')
  call check(shmpool_cond_wait(cv, 0) == SHMPOOL_ETIMEDOUT, 'shmpool_cond_wait')
  call check(shmpool_cond_wait_for(cv, c_funloc(always), c_null_ptr, -1) == 0, 'shmpool_cond_wait_for')
  call check(shmpool_cond_notify(cv, 1) == 0, 'shmpool_cond_notify')
  call check(shmpool_cond_notify_all(cv) == 0, 'shmpool_cond_notify_all')
  call check(shmpool_lock_release(lk) == 0, 'cond: lock released')
  call check(shmpool_cond_notify(cv, 1) == SHMPOOL_EPERM, 'shmpool_cond_notify without the lock')
  call shmpool_cond_destroy(cv)
  call check(shmpool_barrier_create(bar, pool, 1) == 0, 'shmpool_barrier_create')
  call check(shmpool_barrier_parties(bar) == 1, 'shmpool_barrier_parties')
  call check(shmpool_barrier_wait(bar, -1) == 0, 'shmpool_barrier_wait of one party')
  call check(shmpool_barrier_n_waiting(bar) == 0, 'shmpool_barrier_n_waiting')
  call check(shmpool_barrier_abort(bar) == 0, 'shmpool_barrier_abort')
  call check(shmpool_barrier_broken(bar) == 1, 'shmpool_barrier_broken')
  call check(shmpool_barrier_wait(bar, -1) == SHMPOOL_EBROKEN, 'shmpool_barrier_wait of a broken one')
  call check(shmpool_barrier_reset(bar) == 0, 'shmpool_barrier_reset')
  call check(shmpool_barrier_broken(bar) == 0, 'shmpool_barrier_broken after reset')
  call shmpool_barrier_destroy(bar)
  call check(shmpool_value_create(val, pool, SHMPOOL_I8, 3_c_size_t, SHMPOOL_VALUE_LOCK) == 0, &
             'shmpool_value_create')
  call check(shmpool_value_count(val) == 3, 'shmpool_value_count')
  i8 = 40
  call check(shmpool_value_set(val, 2_c_size_t, c_loc(i8)) == 0, 'shmpool_value_set')
  i8 = 2
  rc = shmpool_value_add(val, 2_c_size_t, c_loc(i8), c_loc(old8))
  call check(rc == 0 .and. old8 == 40, 'shmpool_value_add')
  rc = shmpool_value_get(val, 2_c_size_t, c_loc(i8))
  call check(rc == 0 .and. i8 == 42, 'shmpool_value_get')
  call check(shmpool_value_get(val, 3_c_size_t, c_loc(i8)) == -34, 'shmpool_value_get past the end')
  call c_f_pointer(shmpool_value_data(val), vdata, [3])
  lk = shmpool_value_get_lock(val)
  call check(c_associated(lk), 'shmpool_value_get_lock')
  call check(shmpool_lock_acquire(lk, -1) == 0, 'the value lock')
  call check(vdata(3) == 42, 'shmpool_value_data under its lock')
  call check(shmpool_lock_release(lk) == 0, 'value lock released')
  call shmpool_value_destroy(val)

  call shmpool_free_array(pool, x)
  call shmpool_free_array(pool, y)
  call shmpool_free_array(pool, k)
  call shmpool_free_array(pool, m)
  call check(shmpool_close(pool) == 0, 'shmpool_close')
  call check(shmpool_join(pool) == 0, 'shmpool_join')
  call shmpool_destroy(pool)
  opt = shmpool_options()
  opt%workers = 1
  opt%flags = SHMPOOL_FLAG_QUIET
  call check(shmpool_create(pool, opt) == 0, 'shmpool_create with one worker')
  call check(shmpool_terminate(pool) == 0, 'shmpool_terminate')
  call shmpool_destroy(pool)
  opt%reserved_(5) = 1
  call check(shmpool_create(pool, opt) == SHMPOOL_EINVAL, 'nonzero reserved_ is EINVAL')

  if (nfail > 0) error stop 1
  print '(a)', 'fortran interfaces: all called, all as in C'
contains
  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(*), intent(in) :: what
    if (.not. ok) then
      nfail = nfail + 1
      print '(2a)', 'FAILED: ', what
    end if
  end subroutine

  integer(c_size_t) function loc_offset_reserved()
    loc_offset_reserved = transfer(c_loc(opt%reserved_), 0_c_size_t) - transfer(c_loc(opt), 0_c_size_t)
  end function
end program
