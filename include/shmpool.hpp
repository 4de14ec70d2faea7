/*
 * shmpool.hpp: the C++17 interface to shmpool, header-only, on top of shmpool.h.
 *
 *     shmpool::pool pool(shmpool::options().workers(4));
 *     auto x = pool.alloc<double>(n);                      // a span of shared memory
 *     pool.parallel_for(n, [=](size_t b, size_t e) {      // captures copied into the job
 *         for (size_t i = b; i < e; i++) x[i] = std::sqrt(double(i));
 *     });
 *     double s = pool.reduce(n, 0.0, [=](double &acc, size_t i) { acc += x[i]; }, std::plus<>());
 *
 * Callables are copied byte for byte into the job (the C calls' ctx by value, OpenMP's
 * firstprivate) and run on the workers through a static trampoline: capture BY VALUE, and only
 * what is trivially copyable (numbers, raw pointers into shmpool memory, shmpool::span views,
 * small structs of those). Anything else is a compile error that says so. A pointer or a [&]
 * reference to the calling thread's stack compiles but is refused at submission (SHMPOOL_ESTALE);
 * one to the parent's heap is not detected, and the workers see that memory as it was when the
 * pool was created: put shared data in shmpool memory (alloc, allocator<T>).
 *
 * Errors are exceptions of type shmpool::error (a std::system_error): the library's code, the
 * lowest failing index, and the failing task's message. An exception thrown by a task is caught
 * in the worker (which survives) and comes back as shmpool::error with code SHMPOOL_ETASKEXC and
 * the exception's what() (up to SHMPOOL_TASK_MESSAGE_MAX - 1 bytes) as task_message().
 */
#ifndef SHMPOOL_HPP
#define SHMPOOL_HPP

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

/* The C header names its pool type `shmpool`, which C++ cannot have beside namespace shmpool: here
   the C type is called shmpool_t (the functions are extern "C": nothing changes at link time). */
#ifdef SHMPOOL_H
#error "include <shmpool.hpp> instead of <shmpool.h> (before it) in C++ code: the C pool type is shmpool_t there"
#endif
#define shmpool shmpool_t
#include "shmpool.h"
#undef shmpool

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#endif
#endif

namespace shmpool {

/* ---- errors ---------------------------------------------------------------------------------- */

/** The library's error category: messages from shmpool_strerror; errno codes compare equal to
 *  std::errc values (e.code() == std::errc::invalid_argument). Values are the library's negative
 *  codes as returned by the C calls. */
class error_category_impl final : public std::error_category {
  public:
    const char *name() const noexcept override { return "shmpool"; }
    std::string message(int code) const override { return shmpool_strerror(code); }
    std::error_condition default_error_condition(int code) const noexcept override {
        if (code < 0 && code > -SHMPOOL_ERRNO_BASE)
            return std::error_condition(-code, std::generic_category());
        return std::error_condition(code, *this);
    }
};

inline const std::error_category &category() noexcept {
    static const error_category_impl c;
    return c;
}

/** What every failing call throws. */
class error : public std::system_error {
  public:
    static constexpr std::size_t no_index = SIZE_MAX;

    explicit error(int code, std::size_t index = no_index, std::string task_message = {})
        : std::system_error(code, category(), describe(index, task_message)), index_(index),
          task_message_(std::move(task_message)) {}
    /** The C library's code (negative errno or SHMPOOL_*). */
    int library_code() const noexcept { return code().value(); }
    /** The lowest failing index of the job, or no_index when none is known. */
    std::size_t index() const noexcept { return index_; }
    /** What the failing task said: an exception's what(), or shmpool_task_fail_message's text. */
    const std::string &task_message() const noexcept { return task_message_; }

  private:
    static std::string describe(std::size_t index, const std::string &msg) {
        std::string s = "shmpool";
        if (index != no_index)
            s += ": item " + std::to_string(index);
        if (!msg.empty())
            s += ": " + msg;
        return s;
    }
    std::size_t index_;
    std::string task_message_;
};

namespace detail {
inline void check(int rc) {
    if (rc)
        throw error(rc);
}
} // namespace detail

/* ---- span ------------------------------------------------------------------------------------ */

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
/** C++20: shmpool::span is std::span (dynamic extent). */
template <class T> using span = std::span<T>;
#else
/** C++17: a minimal std::span of dynamic extent (data, size, [], iteration, subspans); the same
 *  name becomes std::span itself under C++20. Trivially copyable: lambdas may capture it. */
template <class T> class span {
  public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T *;
    using reference = T &;
    using iterator = T *;

    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <class U, class = std::enable_if_t<std::is_convertible<U (*)[], T (*)[]>::value>>
    constexpr span(const span<U> &o) noexcept : data_(o.data()), size_(o.size()) {}
    template <class C, class = decltype(std::declval<C &>().data()),
              class = std::enable_if_t<std::is_convertible<
                  std::remove_pointer_t<decltype(std::declval<C &>().data())> (*)[], T (*)[]>::value>>
    constexpr span(C &c) noexcept : data_(c.data()), size_(c.size()) {}

    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }
    constexpr span first(std::size_t n) const noexcept { return {data_, n}; }
    constexpr span last(std::size_t n) const noexcept { return {data_ + size_ - n, n}; }
    constexpr span subspan(std::size_t off, std::size_t n = SIZE_MAX) const noexcept {
        return {data_ + off, n == SIZE_MAX ? size_ - off : n};
    }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};
#endif

/* ---- callables into the job ------------------------------------------------------------------ */

namespace detail {
template <class F> constexpr bool check_callable() {
    static_assert(std::is_trivially_copyable<F>::value,
                  "shmpool: a task's callable is copied byte for byte into shared memory, so it "
                  "must be trivially copyable. Capture BY VALUE only numbers, raw pointers into "
                  "shmpool memory, shmpool::span views and structs of those; not std::vector, "
                  "std::string, std::function, smart pointers or anything with a copy "
                  "constructor or destructor (keep such data in shmpool memory: pool.alloc, "
                  "shmpool::allocator)");
    static_assert(sizeof(F) <= SHMPOOL_MAX_CTX_BYTES,
                  "shmpool: a task's callable (its captures) is bigger than SHMPOOL_MAX_CTX_BYTES "
                  "(1 MiB): capture a pointer or span into shmpool memory instead of an array");
    static_assert(alignof(F) <= 64, "shmpool: a task's callable may be aligned to 64 bytes at most");
    return true;
}

/* The exception's text goes with the failure; the worker lives on. */
inline int task_threw(const char *what) noexcept {
    shmpool_task_fail_message(what);
    return SHMPOOL_ETASKEXC;
}

/* Calls f(args...): an int result is the C status (nonzero fails), anything else means success. */
template <class F, class... A> int call_status(const F &f, A &&...a) {
    if constexpr (std::is_same<std::invoke_result_t<const F &, A...>, int>::value)
        return f(std::forward<A>(a)...);
    else
        return f(std::forward<A>(a)...), 0;
}

/* Runs body() in a worker: an exception becomes SHMPOOL_ETASKEXC with its what() attached. */
template <class B> int guarded(const B &body) noexcept {
    try {
        return body();
    } catch (const std::exception &ex) {
        return task_threw(ex.what());
    } catch (...) {
        return task_threw("a task threw an exception not derived from std::exception");
    }
}

template <class F> int range_trampoline(void *ctx, std::size_t b, std::size_t e) {
    return guarded([&] { return call_status(*static_cast<const F *>(ctx), b, e); });
}
template <class F>
int range_id_trampoline(void *ctx, std::size_t b, std::size_t e, const shmpool_chunk_id *id) {
    return guarded([&] { return call_status(*static_cast<const F *>(ctx), b, e, *id); });
}
template <class F, class In, class Out> int map_trampoline(const void *in, void *out, void *ctx) {
    return guarded([&] {
        *static_cast<Out *>(out) = (*static_cast<const F *>(ctx))(*static_cast<const In *>(in));
        return 0;
    });
}
template <class F, class Out, class... A, std::size_t... I>
void star_call(const F &f, const void *const args[], void *out, std::index_sequence<I...>) {
    *static_cast<Out *>(out) = f(*static_cast<const A *>(args[I])...);
}
template <class F, class Out, class... A>
int star_trampoline(const void *const args[], void *out, void *ctx) {
    return guarded([&] {
        star_call<F, Out, A...>(*static_cast<const F *>(ctx), args, out,
                                std::index_sequence_for<A...>{});
        return 0;
    });
}
template <class F, class R> int apply_trampoline(const void *, void *out, void *ctx) {
    return guarded([&] {
        const F &f = *static_cast<const F *>(ctx);
        if constexpr (std::is_void<R>::value)
            f();
        else
            *static_cast<R *>(out) = f();
        return 0;
    });
}

/* reduce: the fold and the combine travel together; combine runs in the calling thread. */
template <class T, class F, class C> struct reduce_ctx {
    F fold;
    C combine;
};
template <class T, class F, class C>
int reduce_trampoline(void *ctx, std::size_t b, std::size_t e, void *partial) {
    return guarded([&] {
        const F &f = static_cast<const reduce_ctx<T, F, C> *>(ctx)->fold;
        T &acc = *static_cast<T *>(partial);
        if constexpr (std::is_invocable<const F &, std::size_t, std::size_t, T &>::value)
            f(b, e, acc);
        else
            for (std::size_t i = b; i < e; i++)
                f(acc, i);
        return 0;
    });
}
template <class T, class F, class C> void reduce_combine(void *acc, const void *partial, void *ctx) {
    const C &c = static_cast<const reduce_ctx<T, F, C> *>(ctx)->combine;
    *static_cast<T *>(acc) = c(*static_cast<const T *>(acc), *static_cast<const T *>(partial));
}

template <class T> constexpr bool check_data() {
    static_assert(std::is_trivially_copyable<T>::value,
                  "shmpool: items, results and reduction values live in shared memory and are "
                  "copied byte for byte: they must be trivially copyable");
    return true;
}
} // namespace detail

/* ---- results --------------------------------------------------------------------------------- */

/** An asynchronous job (Python's AsyncResult), move-only; its destructor cancels a job still
 *  running and frees it. result<R> of an apply_async holds R; the others are result<void>. */
template <class R = void> class result {
  public:
    result() = default;
    result(result &&o) noexcept : r_(std::exchange(o.r_, nullptr)), out_(std::move(o.out_)) {}
    result &operator=(result &&o) noexcept {
        if (this != &o) {
            reset();
            r_ = std::exchange(o.r_, nullptr);
            out_ = std::move(o.out_);
        }
        return *this;
    }
    result(const result &) = delete;
    result &operator=(const result &) = delete;
    ~result() { reset(); }

    /** Wait for the job; throws shmpool::error (code, lowest failing index, task message). */
    R get() {
        wait(-1);
        if constexpr (!std::is_void<R>::value)
            return *out_;
    }
    /** Wait up to timeout_ms (< 0: no limit): true once it ended well, false if still running;
     *  throws shmpool::error if it failed. */
    bool wait(int timeout_ms) {
        int rc = shmpool_result_get(r_, timeout_ms);
        if (rc == -ETIMEDOUT)
            return false;
        if (rc) {
            std::size_t index = error::no_index;
            shmpool_result_error(r_, &index);
            const char *m = shmpool_result_message(r_);
            throw error(rc, index, m ? m : "");
        }
        return true;
    }
    bool ready() const { return shmpool_result_ready(r_) == 1; }
    void cancel() { detail::check(shmpool_result_cancel(r_)); }
    /** Items done so far and in all. */
    std::pair<std::size_t, std::size_t> progress() const {
        std::size_t d = 0, t = 0;
        shmpool_result_progress(r_, &d, &t);
        return {d, t};
    }
    shmpool_result *native() const noexcept { return r_; }
    explicit operator bool() const noexcept { return r_ != nullptr; }

  private:
    friend class pool;
    using storage = std::conditional_t<std::is_void<R>::value, char, R>;
    void reset() noexcept {
        if (r_)
            shmpool_result_free(r_);
        r_ = nullptr;
    }
    shmpool_result *r_ = nullptr;
    std::unique_ptr<storage> out_; /* the apply's output: its address stays put when moved */
};

/* ---- options and the pool -------------------------------------------------------------------- */

/** shmpool_options with chained setters: pool(options().workers(4).flags(SHMPOOL_FLAG_QUIET)). */
class options {
  public:
    options() : o_{} {}
    options &workers(unsigned n) { return o_.workers = n, *this; }
    options &initializer(int (*fn)(void *), void *arg = nullptr) {
        o_.initializer = fn;
        o_.initializer_arg = arg;
        return *this;
    }
    options &max_tasks_per_worker(unsigned n) { return o_.max_tasks_per_worker = n, *this; }
    options &flags(std::uint32_t f) { return o_.flags = f, *this; }
    options &queue_depth(unsigned n) { return o_.queue_depth = n, *this; }
    options &arena_bytes(std::size_t n) { return o_.arena_bytes = n, *this; }
    options &max_segments(unsigned n) { return o_.max_segments = n, *this; }
    options &spin_us(unsigned n) { return o_.spin_us = n, *this; }
    options &task_retries(unsigned n) { return o_.task_retries = n, *this; }
    options &task_timeout_ms(unsigned n) { return o_.task_timeout_ms = n, *this; }
    options &worker_threads(unsigned n) { return o_.worker_threads = n, *this; }
    const shmpool_options &native() const noexcept { return o_; }

  private:
    shmpool_options o_;
};

/** A pool (RAII: the destructor is shmpool_destroy: no process or segment stays). Move-only. */
class pool {
  public:
    explicit pool(const options &o = options()) { detail::check(shmpool_create(&p_, &o.native())); }
    explicit pool(unsigned workers) : pool(options().workers(workers)) {}
    pool(pool &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    pool &operator=(pool &&o) noexcept {
        if (this != &o) {
            shmpool_destroy(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    pool(const pool &) = delete;
    pool &operator=(const pool &) = delete;
    ~pool() { shmpool_destroy(p_); }

    shmpool_t *native() const noexcept { return p_; }
    unsigned workers() const { return shmpool_workers(p_); }
    void close() { detail::check(shmpool_close(p_)); }
    void join() { detail::check(shmpool_join(p_)); }
    void terminate() { detail::check(shmpool_terminate(p_)); }

    /** n zero-filled T in shared memory (the same address in every worker). Throws shmpool::error
     *  with the errno (ENOSPC: /dev/shm too small). Give back with free(). */
    template <class T> span<T> alloc(std::size_t n) {
        static_assert(std::is_trivially_copyable<T>::value && std::is_trivially_destructible<T>::value,
                      "shmpool: pool.alloc<T> gives raw zero-filled memory: T must be trivial "
                      "(use shmpool::allocator<T> with a container for other types)");
        if (n > SIZE_MAX / sizeof(T))
            throw error(-EOVERFLOW);
        void *m = shmpool_alloc(p_, n ? n * sizeof(T) : 1);
        if (!m)
            throw error(-errno);
        return span<T>(static_cast<T *>(m), n);
    }
    template <class T> void free(span<T> s) { detail::check(shmpool_free(p_, (void *)s.data())); }
    void free(void *m) { detail::check(shmpool_free(p_, m)); }

    /** f(begin, end) over [0, n) in chunks (0: automatic); f may return void or an int status. */
    template <class F> void parallel_for(std::size_t n, F f, std::size_t chunk = 0) {
        parallel_for_async(n, f, chunk).get();
    }
    template <class F> result<> parallel_for_async(std::size_t n, F f, std::size_t chunk = 0) {
        detail::check_callable<F>();
        static_assert(std::is_invocable<const F &, std::size_t, std::size_t>::value,
                      "shmpool: parallel_for's callable is called as f(size_t begin, size_t end) "
                      "on a const copy (no `mutable` lambdas)");
        result<> r;
        detail::check(shmpool_for_ctx_async(p_, &detail::range_trampoline<F>, &f, sizeof f, n,
                                            chunk, &r.r_));
        return r;
    }
    /** f(begin, end, const shmpool_chunk_id &id): id.index of id.count chunks, run by worker
     *  id.worker of id.workers (per-worker scratch, per-chunk partials and seeds). */
    template <class F> void parallel_for_with_id(std::size_t n, F f, std::size_t chunk = 0) {
        parallel_for_with_id_async(n, f, chunk).get();
    }
    template <class F>
    result<> parallel_for_with_id_async(std::size_t n, F f, std::size_t chunk = 0) {
        detail::check_callable<F>();
        static_assert(std::is_invocable<const F &, std::size_t, std::size_t,
                                        const shmpool_chunk_id &>::value,
                      "shmpool: parallel_for_with_id's callable is called as f(size_t begin, size_t "
                      "end, const shmpool_chunk_id &id) on a const copy");
        result<> r;
        detail::check(shmpool_for_with_id_async(p_, &detail::range_id_trampoline<F>, &f, sizeof f,
                                                n, chunk, &r.r_));
        return r;
    }

    /** out[i] = f(in[i]) for i < in.size() (out.size() must be the same). Shared memory is used
     *  in place; other memory is staged. */
    template <class In, class Out, class F>
    void map(span<const In> in, span<Out> out, F f, std::size_t chunk = 0) {
        map_async(in, out, f, chunk).get();
    }
    template <class In, class Out, class F>
    result<> map_async(span<const In> in, span<Out> out, F f, std::size_t chunk = 0) {
        detail::check_callable<F>();
        detail::check_data<In>();
        detail::check_data<Out>();
        if (in.size() != out.size())
            throw error(-EINVAL);
        result<> r;
        detail::check(shmpool_map_ctx_async(p_, &detail::map_trampoline<F, In, Out>, &f, sizeof f,
                                            in.data(), sizeof(In), out.data(), sizeof(Out),
                                            in.size(), chunk, &r.r_));
        return r;
    }
    /** The same over plain pointers: n items. */
    template <class In, class Out, class F>
    void map(const In *in, Out *out, std::size_t n, F f, std::size_t chunk = 0) {
        map(span<const In>(in, n), span<Out>(out, n), f, chunk);
    }

    /** out[i] = f(cols[0][i], cols[1][i], ...): columns of any types, no tuples built. */
    template <class Out, class F, class... A>
    void starmap(span<Out> out, F f, span<const A>... cols) {
        starmap_async(out, f, cols...).get();
    }
    template <class Out, class F, class... A>
    result<> starmap_async(span<Out> out, F f, span<const A>... cols) {
        static_assert(sizeof...(A) >= 1 && sizeof...(A) <= SHMPOOL_MAX_COLUMNS,
                      "shmpool: starmap takes 1 to SHMPOOL_MAX_COLUMNS columns");
        detail::check_callable<F>();
        detail::check_data<Out>();
        const void *const c[] = {cols.data()...};
        const std::size_t sizes[] = {sizeof(A)...};
        const std::size_t lens[] = {cols.size()...};
        for (std::size_t len : lens)
            if (len != out.size())
                throw error(-EINVAL);
        result<> r;
        detail::check(shmpool_starmap_ctx_async(p_, &detail::star_trampoline<F, Out, A...>, &f,
                                                sizeof f, sizeof...(A), c, sizes, out.data(),
                                                sizeof(Out), out.size(), 0, &r.r_));
        return r;
    }

    /** f() once on a worker; its value (trivially copyable, or void) comes back with get(). */
    template <class F> auto apply(F f) { return apply_async(f).get(); }
    template <class F> auto apply_async(F f) {
        detail::check_callable<F>();
        using R = std::invoke_result_t<const F &>;
        static_assert(std::is_void<R>::value || std::is_trivially_copyable<R>::value,
                      "shmpool: apply's value is copied back byte for byte: it must be void or "
                      "trivially copyable");
        result<R> r;
        void *out = nullptr;
        std::size_t out_size = 0;
        if constexpr (!std::is_void<R>::value) {
            r.out_.reset(new R());
            out = r.out_.get();
            out_size = sizeof(R);
        }
        detail::check(shmpool_apply_ctx_async(p_, &detail::apply_trampoline<F, R>, &f, sizeof f,
                                              nullptr, 0, out, out_size, &r.r_));
        return r;
    }

    /** Deterministic reduction over [0, n): each chunk folds into a copy of `identity`, either
     *  item by item, fold(T &acc, size_t i), or as a range, fold(size_t b, size_t e, T &acc);
     *  the partials are combined in chunk order in this thread, acc = combine(acc, partial) (e.g.
     *  std::plus<>()). Bit-identical for any number of workers. */
    template <class T, class F, class C>
    T reduce(std::size_t n, T identity, F fold, C combine, std::size_t chunk = 0) {
        detail::check_data<T>();
        using ctx_t = detail::reduce_ctx<T, F, C>;
        detail::check_callable<ctx_t>();
        static_assert(std::is_invocable<const F &, T &, std::size_t>::value ||
                          std::is_invocable<const F &, std::size_t, std::size_t, T &>::value,
                      "shmpool: reduce's fold is called as fold(T &acc, size_t i) or "
                      "fold(size_t begin, size_t end, T &acc)");
        ctx_t ctx{fold, combine};
        T acc = identity;
        int rc = shmpool_reduce(p_, &detail::reduce_trampoline<T, F, C>,
                                &detail::reduce_combine<T, F, C>, &ctx, sizeof ctx, n, chunk, &acc,
                                sizeof acc);
        if (rc)
            throw error(rc, error::no_index, shmpool_last_message());
        return acc;
    }

    /** The chunk size and count a map/for (reduce: true) over n items with `chunk` uses. */
    std::pair<std::size_t, std::size_t> chunking(std::size_t n, std::size_t chunk = 0,
                                                 bool reduce = false) const {
        std::size_t size = 0, count = 0;
        detail::check(shmpool_chunking(p_, n, chunk, reduce, &size, &count));
        return {size, count};
    }

  private:
    shmpool_t *p_ = nullptr;
};

/** In a task: the worker's index (0 .. workers - 1); see shmpool_worker_index. */
inline int worker_index() noexcept { return shmpool_worker_index(); }

/* ---- allocator ------------------------------------------------------------------------------- */

/** std::allocator for shared memory: std::vector<double, shmpool::allocator<double>> v(n,
 *  shmpool::allocator<double>(pool)) is seen by every worker at the same address. Each allocation
 *  is one shmpool_alloc block (a /dev/shm segment, at least a page): reserve() before growing a
 *  vector element by element. Allocators compare equal when they use the same pool. */
template <class T> class allocator {
  public:
    using value_type = T;

    explicit allocator(shmpool_t *p) noexcept : pool_(p) {}
    explicit allocator(const pool &p) noexcept : pool_(p.native()) {}
    template <class U> allocator(const allocator<U> &o) noexcept : pool_(o.native()) {}

    T *allocate(std::size_t n) {
        if (n > SIZE_MAX / sizeof(T))
            throw std::bad_array_new_length();
        void *m = shmpool_alloc(pool_, n ? n * sizeof(T) : sizeof(T));
        if (!m)
            throw std::bad_alloc();
        return static_cast<T *>(m);
    }
    void deallocate(T *m, std::size_t) noexcept { shmpool_free(pool_, m); }
    shmpool_t *native() const noexcept { return pool_; }

  private:
    shmpool_t *pool_;
};
template <class T, class U>
bool operator==(const allocator<T> &a, const allocator<U> &b) noexcept {
    return a.native() == b.native();
}
template <class T, class U>
bool operator!=(const allocator<T> &a, const allocator<U> &b) noexcept {
    return !(a == b);
}

} // namespace shmpool

#endif /* SHMPOOL_HPP */
