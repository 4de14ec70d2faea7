! Numeric codes in Fortran on the pool, checked exactly against the same loops run serially:
! daxpy (y = a*x + y) and a 2-D Jacobi iteration whose columns are split among the workers.
module numeric_kernels
  use shmpool
  implicit none
  type, bind(C) :: daxpy_args          ! passed by value: copied into each job
    type(c_ptr) :: x, y
    real(c_double) :: a
    integer(c_size_t) :: n
  end type
  type, bind(C) :: sweep_args
    type(c_ptr) :: u, unew            ! (0:nx+1, 0:ny+1) grids in shmpool memory
    integer(c_int) :: nx, ny
  end type
contains
  integer(c_int) function daxpy_chunk(ctx, b, e) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    type(daxpy_args), pointer :: p
    real(c_double), pointer :: x(:), y(:)
    integer(c_size_t) :: i
    call c_f_pointer(ctx, p)
    call c_f_pointer(p%x, x, [p%n])
    call c_f_pointer(p%y, y, [p%n])
    do i = b + 1, e                    ! [b, e) zero-based: b+1 .. e for 1-based arrays
      y(i) = p%a * x(i) + y(i)
    end do
    daxpy_chunk = 0
  end function

  ! One Jacobi sweep over interior columns b+1 .. e of unew from u.
  integer(c_int) function sweep_chunk(ctx, b, e) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    type(sweep_args), pointer :: p
    real(c_double), pointer :: u(:, :), unew(:, :)
    call c_f_pointer(ctx, p)
    call grids(p, u, unew)
    call sweep(u, unew, p%nx, int(b) + 1, int(e))
    sweep_chunk = 0
  end function

  subroutine grids(p, u, unew)
    type(sweep_args), intent(in) :: p
    real(c_double), pointer, intent(out) :: u(:, :), unew(:, :)
    real(c_double), pointer :: t(:, :)
    call c_f_pointer(p%u, t, [p%nx + 2, p%ny + 2])
    u(0:, 0:) => t
    call c_f_pointer(p%unew, t, [p%nx + 2, p%ny + 2])
    unew(0:, 0:) => t
  end subroutine

  subroutine sweep(u, unew, nx, j0, j1)
    real(c_double), intent(in) :: u(0:, 0:)
    real(c_double), intent(inout) :: unew(0:, 0:)
    integer, intent(in) :: nx, j0, j1
    integer :: i, j
    do j = j0, j1
      do i = 1, nx
        unew(i, j) = 0.25_c_double * (u(i - 1, j) + u(i + 1, j) + u(i, j - 1) + u(i, j + 1))
      end do
    end do
  end subroutine
end module

program test_numeric
  use shmpool
  use numeric_kernels
  implicit none
  type(c_ptr) :: pool
  type(shmpool_options) :: opt
  type(daxpy_args), target :: da
  type(sweep_args), target :: sa
  real(c_double), pointer :: x(:), y(:), u(:, :), v(:, :)
  real(c_double), allocatable :: ys(:), us(:, :), vs(:, :)
  integer, parameter :: n = 100003, nx = 61, ny = 47, iters = 50
  integer :: i, j, it, nfail = 0
  type(c_ptr) :: t

  opt%workers = 3
  opt%flags = SHMPOOL_FLAG_QUIET
  if (shmpool_create(pool, opt) /= 0) error stop 'create'

  ! daxpy
  call shmpool_alloc_array(pool, x, [1, n])
  call shmpool_alloc_array(pool, y, [1, n])
  do i = 1, n
    x(i) = sin(real(i, c_double))
    y(i) = cos(real(i, c_double)) / 3
  end do
  allocate(ys(n), us(0:nx + 1, 0:ny + 1), vs(0:nx + 1, 0:ny + 1)) ! explicit: no realloc on assignment
  ys = y
  ys = 1.5_c_double * x + ys
  da = daxpy_args(c_loc(x), c_loc(y), 1.5_c_double, int(n, c_size_t))
  if (shmpool_for_ctx(pool, c_funloc(daxpy_chunk), c_loc(da), c_sizeof(da), int(n, c_size_t), &
                      0_c_size_t) /= 0) error stop 'daxpy'
  if (any(y /= ys)) then
    nfail = nfail + 1
    print '(a)', 'FAILED: daxpy on the pool differs from the serial daxpy'
  end if

  ! Jacobi: boundary 1 on the left edge, 0 elsewhere; iters sweeps, grids swapped each time
  call shmpool_alloc_array(pool, u, [0, nx + 1, 0, ny + 1])
  call shmpool_alloc_array(pool, v, [0, nx + 1, 0, ny + 1])
  u(:, 0) = 1
  v(:, 0) = 1
  us = u
  vs = v
  sa = sweep_args(c_loc(u(0, 0)), c_loc(v(0, 0)), nx, ny)
  do it = 1, iters
    if (shmpool_for_ctx(pool, c_funloc(sweep_chunk), c_loc(sa), c_sizeof(sa), int(ny, c_size_t), &
                        5_c_size_t) /= 0) error stop 'jacobi'
    t = sa%u
    sa%u = sa%unew
    sa%unew = t
    call sweep(us, vs, nx, 1, ny)
    call swap(us, vs)
  end do
  ! after an even number of sweeps the newest grid is u again
  do j = 0, ny + 1
    do i = 0, nx + 1
      if (u(i, j) /= us(i, j)) then
        nfail = nfail + 1
        print '(a, 2i4)', 'FAILED: Jacobi on the pool differs from the serial one at ', i, j
        exit
      end if
    end do
  end do
  if (maxval(u(1:nx, 1)) <= 0) then
    nfail = nfail + 1
    print '(a)', 'FAILED: Jacobi did not spread the boundary'
  end if
  call shmpool_destroy(pool)
  deallocate(ys, us, vs) ! the main program's variables are saved: free them for leak checkers
  if (nfail > 0) error stop 1
  print '(a)', 'fortran numeric: daxpy and Jacobi exact'
contains
  subroutine swap(a, b)
    real(c_double), allocatable, intent(inout) :: a(:, :), b(:, :)
    real(c_double), allocatable :: c(:, :)
    call move_alloc(a, c)
    call move_alloc(b, a)
    call move_alloc(c, b)
  end subroutine
end program
