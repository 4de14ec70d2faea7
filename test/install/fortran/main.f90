! A Fortran consumer of the installed package: the shmpool module, an array in shared memory, a
! parallel for over it.
module consumer_tasks
  use shmpool
  implicit none
contains
  integer(c_int) function fill(ctx, b, e) bind(C)
    type(c_ptr), value :: ctx
    integer(c_size_t), value :: b, e
    real(c_double), pointer :: x(:)
    integer(c_size_t) :: i
    call c_f_pointer(ctx, x, [e])
    do i = b + 1, e
      x(i) = 2 * real(i, c_double)
    end do
    fill = 0
  end function
end module

program consumer
  use shmpool
  use consumer_tasks
  implicit none
  type(c_ptr) :: pool
  type(shmpool_options) :: opt
  real(c_double), pointer :: x(:)
  integer :: rc
  opt%workers = 2
  opt%flags = SHMPOOL_FLAG_QUIET
  rc = shmpool_create(pool, opt)
  if (rc /= 0) error stop 'create'
  call shmpool_alloc_array(pool, x, [1, 1000], rc)
  if (rc /= 0) error stop 'alloc'
  rc = shmpool_for(pool, c_funloc(fill), c_loc(x(1)), 1000_c_size_t, 0_c_size_t)
  if (rc /= 0 .or. x(1000) /= 2000) error stop 'for'
  call shmpool_destroy(pool)
  print '(a)', 'installed shmpool Fortran module: ok'
end program
