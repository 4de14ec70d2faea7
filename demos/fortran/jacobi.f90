! A 2-D Jacobi solver for Laplace's equation on the unit square (u = 1 on the left edge, 0 on the
! others), run three ways: serial Fortran, OpenMP Fortran, and shmpool's workers sweeping blocks of
! columns of grids in shared memory. Every point is computed by the same expression from the same
! neighbours, so the three grids must be bit-identical after every sweep; the residual (the
! largest change, a max: exact in any order) decides when to stop. Prints the times and their
! ratio to the serial run.
!
!     fortran_jacobi [n] [max_sweeps] [workers]      (defaults 1000 2000 0 = all usable cores)
module jacobi_pool
  use shmpool
  implicit none
  type, bind(C) :: sweep_args           ! passed by value into each job (ctx_size = c_sizeof)
    type(c_ptr) :: u, unew
    integer(c_int) :: n
  end type
contains
  ! unew = average of u's four neighbours on columns j0..j1 (1-based interior columns)
  subroutine sweep(u, unew, n, j0, j1)
    integer, intent(in) :: n, j0, j1
    real(c_double), intent(in) :: u(0:n + 1, 0:n + 1)
    real(c_double), intent(inout) :: unew(0:n + 1, 0:n + 1)
    integer :: i, j
    do j = j0, j1
      do i = 1, n
        unew(i, j) = 0.25_c_double * (u(i - 1, j) + u(i + 1, j) + u(i, j - 1) + u(i, j + 1))
      end do
    end do
  end subroutine

  pure real(c_double) function change(u, unew, n, j0, j1)
    integer, intent(in) :: n, j0, j1
    real(c_double), intent(in) :: u(0:n + 1, 0:n + 1), unew(0:n + 1, 0:n + 1)
    change = maxval(abs(unew(1:n, j0:j1) - u(1:n, j0:j1)))
  end function

  ! The pool's task: columns [b, e) zero-based are interior columns b+1 .. e; the chunk's largest
  ! change goes into its partial (a reduction with max as the combine).
  integer(c_int) function sweep_chunk(ctx, b, e, partial) bind(C)
    type(c_ptr), value :: ctx, partial
    integer(c_size_t), value :: b, e
    type(sweep_args), pointer :: a
    real(c_double), pointer :: u(:, :), unew(:, :), res
    call c_f_pointer(ctx, a)
    call c_f_pointer(a%u, u, [a%n + 2, a%n + 2])
    call c_f_pointer(a%unew, unew, [a%n + 2, a%n + 2])
    call c_f_pointer(partial, res)
    call sweep(u, unew, a%n, int(b) + 1, int(e))
    res = max(res, change(u, unew, a%n, int(b) + 1, int(e)))
    sweep_chunk = 0
  end function

  subroutine max_of(acc, partial, ctx) bind(C)
    type(c_ptr), value :: acc, partial, ctx
    real(c_double), pointer :: a, p
    call c_f_pointer(acc, a)
    call c_f_pointer(partial, p)
    a = max(a, p)
    if (c_associated(ctx)) continue
  end subroutine

  subroutine boundary(u)
    real(c_double), intent(inout) :: u(0:, 0:)
    u = 0
    u(:, 0) = 1
  end subroutine
end module

program fortran_jacobi
  use shmpool
  use jacobi_pool
  implicit none
  integer :: n = 1000, max_sweeps = 2000, workers = 0, k, sweeps(3), rc
  real(c_double), parameter :: tol = 1e-5_c_double
  real(c_double), allocatable, target :: a(:, :), b(:, :)
  real(c_double), pointer :: pu(:, :), pv(:, :)
  real(c_double), allocatable :: serial(:, :), omp(:, :)
  real(c_double) :: times(3), res
  real(c_double), target :: acc
  type(c_ptr) :: pool
  type(shmpool_options) :: opt
  type(sweep_args), target :: args
  character(32) :: arg
  integer(8) :: t0, t1, rate

  if (command_argument_count() >= 1) then
    call get_command_argument(1, arg)
    read (arg, *) n
  end if
  if (command_argument_count() >= 2) then
    call get_command_argument(2, arg)
    read (arg, *) max_sweeps
  end if
  if (command_argument_count() >= 3) then
    call get_command_argument(3, arg)
    read (arg, *) workers
  end if

  ! The pool first: its workers are forked before the program's first OpenMP region.
  opt%workers = workers
  opt%flags = SHMPOOL_FLAG_QUIET
  rc = shmpool_create(pool, opt)
  if (rc /= 0) then
    print '(2a)', 'shmpool_create: ', shmpool_strerror(rc)
    error stop 1
  end if
  allocate(a(0:n + 1, 0:n + 1), b(0:n + 1, 0:n + 1))
  allocate(serial(0:n + 1, 0:n + 1), omp(0:n + 1, 0:n + 1))

  ! 1. serial
  call system_clock(t0, rate)
  call boundary(a)
  call boundary(b)
  do k = 1, max_sweeps
    call sweep(a, b, n, 1, n)
    res = change(a, b, n, 1, n)
    call swap_alloc(a, b)
    if (res < tol) exit
  end do
  sweeps(1) = min(k, max_sweeps)
  call system_clock(t1)
  times(1) = real(t1 - t0, c_double) / rate
  serial = a

  ! 2. OpenMP: the same loop, its columns split among threads (the max is exact in any order)
  call system_clock(t0)
  call boundary(a)
  call boundary(b)
  do k = 1, max_sweeps
    res = 0
    call omp_sweep(a, b, n, res)
    call swap_alloc(a, b)
    if (res < tol) exit
  end do
  sweeps(2) = min(k, max_sweeps)
  call system_clock(t1)
  times(2) = real(t1 - t0, c_double) / rate
  omp = a
  deallocate(a, b)

  ! 3. shmpool: the grids in shared memory, one reduce per sweep (sweep + residual)
  call shmpool_alloc_array(pool, pu, [0, n + 1, 0, n + 1])
  call shmpool_alloc_array(pool, pv, [0, n + 1, 0, n + 1])
  call system_clock(t0)
  call boundary(pu)
  call boundary(pv)
  args = sweep_args(c_loc(pu(0, 0)), c_loc(pv(0, 0)), n)
  do k = 1, max_sweeps
    acc = 0
    rc = shmpool_reduce(pool, c_funloc(sweep_chunk), c_funloc(max_of), c_loc(args), c_sizeof(args), &
                        int(n, c_size_t), 0_c_size_t, c_loc(acc), c_sizeof(acc))
    if (rc /= 0) then
      print '(2a)', 'shmpool_reduce: ', shmpool_strerror(rc)
      error stop 1
    end if
    args = sweep_args(args%unew, args%u, n)
    if (acc < tol) exit
  end do
  sweeps(3) = min(k, max_sweeps)
  call system_clock(t1)
  times(3) = real(t1 - t0, c_double) / rate
  if (mod(sweeps(3), 2) == 1) call swap_ptr(pu, pv) ! pu: the newest grid (the last sweep wrote it)

  print '(a, i0, a, i0, a, i0, a)', 'jacobi (Fortran): ', n, ' x ', n, ' grid, ', &
        shmpool_workers(pool), ' pool workers'
  print '(a, f10.4, a, i0, a)', '  serial   ', times(1), ' s  ', sweeps(1), ' sweeps'
  print '(a, f10.4, a, i0, a, f6.2, a)', '  OpenMP   ', times(2), ' s  ', sweeps(2), &
        ' sweeps  (', times(1) / times(2), 'x serial)'
  print '(a, f10.4, a, i0, a, f6.2, a)', '  shmpool  ', times(3), ' s  ', sweeps(3), &
        ' sweeps  (', times(1) / times(3), 'x serial)'
  if (any(sweeps /= sweeps(1)) .or. any(omp /= serial) .or. any(pu /= serial)) then
    print '(a)', '  the three grids DIFFER'
    error stop 1
  end if
  print '(a)', '  the three grids are bit-identical'
  call shmpool_free_array(pool, pu)
  call shmpool_free_array(pool, pv)
  call shmpool_destroy(pool)
  deallocate(serial, omp)
contains
  subroutine omp_sweep(u, unew, n, res)
    integer, intent(in) :: n
    real(c_double), intent(in) :: u(0:n + 1, 0:n + 1)
    real(c_double), intent(inout) :: unew(0:n + 1, 0:n + 1)
    real(c_double), intent(inout) :: res
    integer :: j
    !$omp parallel do reduction(max: res)
    do j = 1, n
      call sweep(u, unew, n, j, j)
      res = max(res, change(u, unew, n, j, j))
    end do
    !$omp end parallel do
  end subroutine

  subroutine swap_alloc(x, y)
    real(c_double), allocatable, intent(inout) :: x(:, :), y(:, :)
    real(c_double), allocatable :: t(:, :)
    call move_alloc(x, t)
    call move_alloc(y, x)
    call move_alloc(t, y)
  end subroutine

  subroutine swap_ptr(x, y)
    real(c_double), pointer, intent(inout) :: x(:, :), y(:, :)
    real(c_double), pointer :: t(:, :)
    t => x
    x => y
    y => t
  end subroutine
end program
