// prockit/pool/pool.hpp — Pool: a fixed set of worker processes that run functions for you
// (Python's multiprocessing.Pool).
//
//   int square(int x) { return x * x; }
//   prockit::Pool pool({.processes = 4});
//   std::vector<int> sq = pool.map(square, std::vector<int>{1, 2, 3});     // {1, 4, 9}
//   auto r = pool.apply_async(square, std::tuple{7}, {.callback = [](const int& v) { ... }});
//   int v = r.get(5s);
//
// What can run in a worker — the model. The workers are fork()ed copies of the program, so code
// has the same address in them. A task travels as the callable's object bytes, the address of a
// decoder instantiated for its type and argument types, and the arguments encoded with the codec
// (prockit/ipc/codec.hpp). Any trivially copyable callable can therefore run: functions, lambdas
// (capturing too, when the captures are trivially copyable), function objects; one that owns
// memory (a std::string capture, a std::function) is rejected at compile time with a message that
// says to pass that data as arguments. Captured pointers point into the worker's snapshot of memory.
// Arguments are converted to the callable's parameter types when it has a single signature, and
// travel as given otherwise (generic lambdas). map/starmap/imap accept any input range (a
// single-pass one is read into a vector first); map over a void function returns the item count.
// The initializer (any callable, with initargs: Pool(options, init, args...)) is not sent: the
// workers are forked with it. Replacement workers are forked later and see the state of that time.
// Functions in libraries dlopen()ed after the pool started are not in the workers.
//
// Threads. A result-handler thread in the calling process receives results, completes the
// AsyncResults, runs `callback` / `error_callback` (so callbacks run on that thread, one at a time:
// keep them short, and do not wait on pool results from them), notices workers that died, and forks
// their replacements. Workers are forked from that thread (and get SIGKILL if it ends, i.e. if the
// pool's process dies). Forking from a threaded program copies only the forking thread: a task must
// not rely on locks another thread of the parent may have held at that moment.
//
// Failure. An exception thrown by a task reaches get() (and map(), and imap's step that reaches
// its item) as itself when its type is exactly a standard one (std::invalid_argument,
// std::out_of_range, std::runtime_error, std::system_error with its code, std::bad_alloc, ...; see
// docs/ipc.md), with the same what(); any other as TaskError, code IpcErrc::task_failed, its
// message holding the exception's type and what(). error_callback always gets that TaskError. A worker killed while
// running a task (SIGKILL, the OOM killer, a crash) fails that task with TaskError, code
// IpcErrc::worker_lost; a new worker replaces it and the other tasks go on — nothing hangs.
// terminate() kills the workers and fails unfinished tasks (code IpcErrc::closed); the destructor
// terminates, as Python's `with Pool() as p:` does. close() then join(timeout) lets the queued work
// finish first. An initializer that fails 3 times in a row (no task done in between) breaks the
// pool: pending tasks fail, new ones throw ClosedError (Python would respawn workers for ever).
#pragma once

#include <prockit/ipc/codec.hpp>
#include <prockit/ipc/errors.hpp>
#include <prockit/pool/async_result.hpp>

#include <concepts>
#include <cstdint>
#include <cstring>
#include <exception>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <sys/types.h>

namespace prockit {

struct PoolOptions {
    /// Worker processes (0: cpu_count()).
    unsigned processes = 0;
    /// Runs once in every worker when it starts. Any callable: the workers are forked copies of
    /// this process, so it need not be sent (see also Pool(options, initializer, initargs...)).
    std::function<void()> initializer = {};
    /// A worker is replaced after this many tasks (0: never).
    unsigned maxtasksperchild = 0;
    /// Size of each of the task and result rings.
    std::size_t buffer_bytes = std::size_t{8} << 20;
};

/// Callbacks for the *_async calls; they run on the pool's result-handler thread.
template <class R>
struct Callbacks {
    std::function<void(const R&)> callback = {};
    std::function<void(const TaskError&)> error_callback = {};
};
template <>
struct Callbacks<void> {
    std::function<void()> callback = {};
    std::function<void(const TaskError&)> error_callback = {};
};

namespace detail {

/// The parameter types of a callable with exactly one call signature (a function, a function
/// pointer, a lambda or function object with one non-template operator()): arguments are
/// converted to them in the caller and decoded as them in the worker. For other callables
/// (generic lambdas, overloaded operator()) the arguments travel as the types they were given.
template <class F, class = void>
struct Signature {
    template <class Given>
    using args_or = Given;
};
template <class... A>
struct SignatureOf {
    template <class>
    using args_or = std::tuple<std::remove_cvref_t<A>...>;
};
template <class R, class... A>
struct Signature<R (*)(A...), void> : SignatureOf<A...> {};
template <class R, class... A>
struct Signature<R (*)(A...) noexcept, void> : SignatureOf<A...> {};
template <class M>
struct MemberSignature;
#define PROCKIT_POOL_MEMBER_SIGNATURE(Q) \
    template <class R, class C, class... A> \
    struct MemberSignature<R (C::*)(A...) Q> : SignatureOf<A...> {};
PROCKIT_POOL_MEMBER_SIGNATURE()
PROCKIT_POOL_MEMBER_SIGNATURE(const)
PROCKIT_POOL_MEMBER_SIGNATURE(noexcept)
PROCKIT_POOL_MEMBER_SIGNATURE(const noexcept)
PROCKIT_POOL_MEMBER_SIGNATURE(&)
PROCKIT_POOL_MEMBER_SIGNATURE(const&)
PROCKIT_POOL_MEMBER_SIGNATURE(& noexcept)
PROCKIT_POOL_MEMBER_SIGNATURE(const& noexcept)
#undef PROCKIT_POOL_MEMBER_SIGNATURE
template <class F>
struct Signature<F, std::void_t<decltype(&F::operator())>> : MemberSignature<decltype(&F::operator())> {};

/// The argument tuple a task of F carries, given the (decayed) types the caller passed.
template <class F, class Given>
using ArgsFor = typename Signature<F>::template args_or<Given>;

template <class F, class Args>
struct ApplyResult {};
template <class F, class... A>
    requires std::invocable<F&, A&&...>
struct ApplyResult<F, std::tuple<A...>> {
    using type = std::remove_cvref_t<std::invoke_result_t<F&, A&&...>>;
};
template <class F, class Args>
concept CallableWith = requires { typename ApplyResult<F, Args>::type; };
template <class F, class Args>
using ResultFor = typename ApplyResult<F, Args>::type;

/// What can be sent: the callable travels as its object bytes, so it must be trivially copyable.
template <class F>
concept Sendable = std::is_trivially_copyable_v<F>;

/// Compile-time checks with a message that says why and what to do; true when all pass.
template <class F, class Args>
constexpr bool check_task() {
    static_assert(Sendable<F>,
                  "prockit::Pool sends a task's callable to the worker process as its bytes, so it must be trivially "
                  "copyable: capture only trivially copyable values (numbers, enums, plain structs, pointers to data that "
                  "existed when the pool started), or pass the data (a std::string, std::vector, std::function, ...) as "
                  "task arguments instead of capturing it.");
    static_assert(!Sendable<F> || CallableWith<F, Args>,
                  "prockit::Pool: the callable cannot be called with these arguments (a worker calls it with rvalues of "
                  "the function's parameter types, or of the argument types given when it has no single signature).");
    return Sendable<F> && CallableWith<F, Args>;
}

/// What map() gives back: the results in order, or for a void function the number of items run.
template <class R>
using MapOut = std::conditional_t<std::is_void_v<R>, std::size_t, std::vector<R>>;

/// Decodes `count` argument tuples, calls the callable (its bytes at `fn`) on each, encodes each result.
using Trampoline = void (*)(const char* fn, Reader& in, std::uint32_t count, std::string& out);

template <class Tuple>
struct DecodeArgs;
template <class... A>
struct DecodeArgs<std::tuple<A...>> {
    static std::tuple<A...> decode(Reader& r) { return std::tuple<A...>{Codec<A>::decode(r)...}; }
};

template <class F, class Args>
void trampoline(const char* fn, Reader& in, std::uint32_t count, std::string& out) {
    // The bytes are those of a trivially copyable (implicit-lifetime) object of the same program.
    alignas(F) unsigned char storage[sizeof(F)];
    std::memcpy(storage, fn, sizeof(F));
    F& f = *std::launder(reinterpret_cast<F*>(storage));
    using R = ResultFor<F, Args>;
    Writer w(out);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto args = DecodeArgs<Args>::decode(in);
        if constexpr (std::is_void_v<R>) {
            std::apply(f, std::move(args));
        } else {
            Codec<R>::encode(w, std::apply(f, std::move(args)));
        }
    }
}

template <class T, class V>
void encode_one(Writer& w, const V& v) {
    if constexpr (std::is_same_v<T, V>)
        Codec<T>::encode(w, v);
    else
        Codec<T>::encode(w, T(v));
}

/// Encodes one argument tuple of `Args` from values convertible to them.
template <class Args, class... V>
void encode_args(std::string& out, const V&... v) {
    static_assert(std::tuple_size_v<Args> == sizeof...(V), "prockit::Pool: wrong number of arguments for the function");
    Writer w(out);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (encode_one<std::tuple_element_t<I, Args>>(w, v), ...);
    }(std::index_sequence_for<V...>{});
}

template <class Args, bool Star, class Item>
void encode_item(std::string& out, const Item& item) {
    if constexpr (Star)
        std::apply([&](const auto&... v) { encode_args<Args>(out, v...); }, item);
    else
        encode_args<Args>(out, item);
}

/// A submitted job as the result handler sees it. on_* return true when the job is complete.
class JobBase {
public:
    virtual ~JobBase() = default;
    virtual bool on_chunk(std::uint32_t chunk, std::string_view payload) = 0;
    virtual bool on_error(std::uint32_t chunk, const TaskFailure& failure) = 0;
};

class PoolCore;

template <class R>
void decode_results(Reader& r, std::size_t count, std::vector<R>& out, std::size_t at) {
    for (std::size_t i = 0; i < count; ++i) out[at + i] = Codec<R>::decode(r);
}

template <class R>
void run_callback(const std::function<void(const R&)>& cb, const R& v) {
    if (!cb) return;
    try {
        cb(v);
    } catch (...) {  // a callback's exception must not kill the result handler
    }
}
inline void run_error_callback(const std::function<void(const TaskError&)>& cb, const TaskFailure& f) {
    if (!cb) return;
    try {
        cb(TaskError(Error(f.code, f.message)));
    } catch (...) {
    }
}
inline TaskFailure codec_failure(const CodecError& e) { return {e.code(), e.what()}; }

template <class R>
class ApplyJob final : public JobBase {
public:
    ApplyJob(std::shared_ptr<ResultState<R>> s, Callbacks<R> cb) : s_(std::move(s)), cb_(std::move(cb)) {}
    bool on_chunk(std::uint32_t, std::string_view payload) override {
        try {
            Reader r(payload);
            if constexpr (std::is_void_v<R>) {
                if (cb_.callback) try { cb_.callback(); } catch (...) {}
                s_->finish_value(true);
            } else {
                R v = Codec<R>::decode(r);
                run_callback(cb_.callback, v);
                s_->finish_value(std::move(v));
            }
        } catch (const CodecError& e) {
            return on_error(0, codec_failure(e));
        }
        return true;
    }
    bool on_error(std::uint32_t, const TaskFailure& f) override {
        run_error_callback(cb_.error_callback, f);
        s_->finish_error(f);
        return true;
    }

private:
    std::shared_ptr<ResultState<R>> s_;
    Callbacks<R> cb_;
};

template <class R>
class MapJob final : public JobBase {
public:
    using Out = MapOut<R>;
    MapJob(std::shared_ptr<ResultState<Out>> s, Callbacks<Out> cb, std::size_t n, std::size_t chunksize)
        : s_(std::move(s)), cb_(std::move(cb)), n_(n), chunksize_(chunksize), left_(chunksize ? (n + chunksize - 1) / chunksize : 0) {
        if constexpr (!std::is_void_v<R>) results_.resize(n);
    }
    bool on_chunk(std::uint32_t chunk, std::string_view payload) override {
        if (failed_) return --left_ == 0;
        if constexpr (!std::is_void_v<R>) {
            std::size_t at = std::size_t{chunk} * chunksize_;
            std::size_t count = std::min(chunksize_, n_ - at);
            try {
                Reader r(payload);
                decode_results(r, count, results_, at);
            } catch (const CodecError& e) {
                on_error(chunk, codec_failure(e));
                return left_ == 0;
            }
        }
        if (--left_ == 0) {
            if constexpr (std::is_void_v<R>) {
                run_callback(cb_.callback, n_);
                s_->finish_value(n_);
            } else {
                run_callback(cb_.callback, results_);
                s_->finish_value(std::move(results_));
            }
            return true;
        }
        return false;
    }
    bool on_error(std::uint32_t, const TaskFailure& f) override {
        if (!failed_) {
            failed_ = true;
            run_error_callback(cb_.error_callback, f);
            s_->finish_error(f);
        }
        return --left_ == 0;
    }

private:
    struct Empty {};
    std::shared_ptr<ResultState<Out>> s_;
    Callbacks<Out> cb_;
    std::conditional_t<std::is_void_v<R>, Empty, std::vector<R>> results_;
    std::size_t n_;
    std::size_t chunksize_;
    std::size_t left_;
    bool failed_ = false;
};

template <class R>
struct IMapState {
    std::mutex m;
    std::condition_variable cv;
    bool ordered = true;
    std::size_t chunks = 0;
    std::size_t delivered_chunks = 0;             // ordered: next chunk to hand out
    std::map<std::size_t, std::vector<R>> ready;  // ordered: chunks that arrived early
    std::map<std::size_t, TaskFailure> errors;
    std::deque<R> out;                             // values ready to hand out
    std::size_t arrived = 0;
};

template <class R>
class IMapJob final : public JobBase {
public:
    IMapJob(std::shared_ptr<IMapState<R>> s, std::size_t n, std::size_t chunksize) : s_(std::move(s)), n_(n), chunksize_(chunksize) {}
    bool on_chunk(std::uint32_t chunk, std::string_view payload) override {
        std::size_t at = std::size_t{chunk} * chunksize_;
        std::size_t count = std::min(chunksize_, n_ - at);
        std::vector<R> vals(count);
        try {
            Reader r(payload);
            decode_results(r, count, vals, 0);
        } catch (const CodecError& e) {
            return on_error(chunk, codec_failure(e));
        }
        {
            std::lock_guard g(s_->m);
            if (s_->ordered) {
                s_->ready.emplace(chunk, std::move(vals));
                advance();
            } else {
                for (auto& v : vals) s_->out.push_back(std::move(v));
            }
            ++s_->arrived;
        }
        s_->cv.notify_all();
        return s_->arrived == s_->chunks;
    }
    bool on_error(std::uint32_t chunk, const TaskFailure& f) override {
        {
            std::lock_guard g(s_->m);
            s_->errors.emplace(chunk, f);
            ++s_->arrived;
        }
        s_->cv.notify_all();
        return s_->arrived == s_->chunks;
    }

private:
    void advance() {
        for (auto it = s_->ready.find(s_->delivered_chunks); it != s_->ready.end(); it = s_->ready.find(s_->delivered_chunks)) {
            for (auto& v : it->second) s_->out.push_back(std::move(v));
            s_->ready.erase(it);
            ++s_->delivered_chunks;
        }
    }
    std::shared_ptr<IMapState<R>> s_;
    std::size_t n_;
    std::size_t chunksize_;
};

/// The untyped machinery: workers, task/result queues, the result-handler thread.
class PoolCore {
public:
    explicit PoolCore(const PoolOptions& o);
    ~PoolCore();
    /// Registers a job; returns its id. Throws ClosedError after close()/terminate().
    std::uint64_t add_job(std::shared_ptr<JobBase> job);
    /// Queues one task (chunk) of a job.
    void put_task(std::uint64_t job, std::uint32_t chunk, std::uint32_t count, std::string_view fn, Trampoline t, std::string_view args);
    void close();
    void terminate();
    bool join(Timeout timeout);
    unsigned processes() const noexcept { return n_; }
    std::vector<pid_t> pids() const;
    std::size_t default_chunksize(std::size_t n) const {
        std::size_t d = std::size_t{n_} * 4;
        std::size_t c = n / d + (n % d ? 1 : 0);
        return c ? c : 1;
    }
    struct Impl;

private:
    unsigned n_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace detail

/// Results of imap/imap_unordered, handed out as they come (in order for imap).
template <class R>
class IMapIterator {
public:
    explicit IMapIterator(std::shared_ptr<detail::IMapState<R>> s, std::size_t n) : s_(std::move(s)), n_(n) {}
    /// The next result; std::nullopt when all were handed out. An item whose task failed throws
    /// what get() would (the task's standard exception, or TaskError), and the next call goes on
    /// with the following item; TimeoutError when none came in time.
    std::optional<R> next(Timeout timeout = std::nullopt) {
        std::unique_lock l(s_->m);
        auto ready = [&] { return !s_->out.empty() || taken_ == n_ || failed_chunk() != nullptr; };
        if (!timeout)
            s_->cv.wait(l, ready);
        else if (!s_->cv.wait_for(l, *timeout, ready))
            throw_ipc(make_error_code(Errc::timed_out), "get the next pool result");
        if (!s_->out.empty()) {
            R v = std::move(s_->out.front());
            s_->out.pop_front();
            ++taken_;
            return v;
        }
        if (taken_ == n_) return std::nullopt;
        detail::TaskFailure err = *failed_chunk();
        // The failed chunk's items are skipped from now on.
        std::size_t chunk = s_->ordered ? s_->delivered_chunks : s_->errors.begin()->first;
        s_->errors.erase(chunk);
        std::size_t cs = chunksize();
        taken_ += std::min(cs, n_ - chunk * cs);
        if (s_->ordered) {
            ++s_->delivered_chunks;
            for (auto it = s_->ready.find(s_->delivered_chunks); it != s_->ready.end(); it = s_->ready.find(s_->delivered_chunks)) {
                for (auto& v : it->second) s_->out.push_back(std::move(v));
                s_->ready.erase(it);
                ++s_->delivered_chunks;
            }
        }
        l.unlock();
        detail::raise_failure(err);
    }

    // Range-for support (no timeout). Lazy, as Python's iteration: begin() and operator++ wait
    // for nothing; the comparison with end() or operator* waits for the item they reach, and an
    // item whose task failed throws from operator* (the loop then ends, as a Python for loop does;
    // a caller that catches it can ++ on to the next item).
    struct Sentinel {};
    class Iter {
    public:
        explicit Iter(IMapIterator* it) : it_(it) {}
        const R& operator*() const {
            fetch();
            if (err_) std::rethrow_exception(err_);
            return *cur_;
        }
        Iter& operator++() {
            fetch();  // the item is consumed even if nobody looked at it
            fetched_ = false;
            cur_.reset();
            err_ = nullptr;
            return *this;
        }
        bool operator==(Sentinel) const {
            fetch();
            return !cur_ && !err_;
        }

    private:
        void fetch() const {
            if (fetched_) return;
            try {
                cur_ = it_->next();
            } catch (const TimeoutError&) {
                throw;
            } catch (...) {
                err_ = std::current_exception();
            }
            fetched_ = true;
        }
        IMapIterator* it_;
        mutable std::optional<R> cur_;
        mutable std::exception_ptr err_;
        mutable bool fetched_ = false;
    };
    Iter begin() { return Iter(this); }
    Sentinel end() { return {}; }
    void set_chunksize(std::size_t c) { chunksize_ = c; }

private:
    std::size_t chunksize() const { return chunksize_ ? chunksize_ : 1; }
    const detail::TaskFailure* failed_chunk() const {
        if (s_->errors.empty()) return nullptr;
        if (!s_->ordered) return &s_->errors.begin()->second;
        auto it = s_->errors.find(s_->delivered_chunks);
        return it == s_->errors.end() ? nullptr : &it->second;
    }
    std::shared_ptr<detail::IMapState<R>> s_;
    std::size_t n_;
    std::size_t taken_ = 0;
    std::size_t chunksize_ = 1;
};

class Pool {
public:
    explicit Pool(PoolOptions options = {}) : core_(std::make_unique<detail::PoolCore>(std::move(options))) {}
    /// Python's Pool(processes, initializer, initargs): every worker calls initializer(initargs...)
    /// when it starts. Any callable and arguments (copied now; the workers are forked copies of
    /// this process, so nothing has to be sent). Replaces options.initializer.
    template <class F, class... A>
        requires std::invocable<std::decay_t<F>&, std::decay_t<A>&...>
    Pool(PoolOptions options, F&& initializer, A&&... initargs)
        : Pool(with_initializer(std::move(options), std::forward<F>(initializer), std::forward<A>(initargs)...)) {}
    ~Pool() = default;  // the core terminates the workers
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Runs f(args...) in a worker and waits for its result.
    template <class F, class... A>
    auto apply(F f, const A&... args) {
        if constexpr (detail::check_task<F, detail::ArgsFor<F, std::tuple<std::decay_t<A>...>>>())
            return apply_async(f, std::tuple<A...>(args...)).get();
    }

    template <class F, class... A, class R = detail::ResultFor<F, detail::ArgsFor<F, std::tuple<std::decay_t<A>...>>>>
        requires detail::Sendable<F>
    AsyncResult<R> apply_async(F f, const std::tuple<A...>& args, Callbacks<R> cb = {}) {
        using Args = detail::ArgsFor<F, std::tuple<std::decay_t<A>...>>;
        static_assert(std::tuple_size_v<Args> == sizeof...(A), "prockit::Pool::apply_async: wrong number of arguments");
        auto state = std::make_shared<detail::ResultState<R>>();
        std::uint64_t id = core_->add_job(std::make_shared<detail::ApplyJob<R>>(state, std::move(cb)));
        std::string buf;
        std::apply([&](const auto&... v) { detail::encode_args<Args>(buf, v...); }, args);
        submit<Args>(f, id, 0, 1, buf);
        return AsyncResult<R>(state);
    }
    /// (Overload that only reports, at compile time, why a callable cannot be a task.)
    template <class F, class... A>
        requires(!detail::Sendable<F> || !detail::CallableWith<F, detail::ArgsFor<F, std::tuple<std::decay_t<A>...>>>)
    void apply_async(F, const std::tuple<A...>&, ...) {
        (void)detail::check_task<F, detail::ArgsFor<F, std::tuple<std::decay_t<A>...>>>();
    }

    /// f over every item, in order; the items are cut into chunks of `chunksize` (0: about
    /// len / (4 × processes), as Python does). Any input range: one that can be read only once
    /// (std::views::istream, ...) is read to its end first, as Python's map() makes a list of an
    /// iterable. The first failed chunk's exception is thrown (see get()). For a function that
    /// returns void, the number of items run.
    template <class F, class Range>
    auto map(F f, Range&& items, std::size_t chunksize = 0) {
        if constexpr (std::is_void_v<decltype(map_async(f, std::forward<Range>(items), chunksize))>)
            map_async(f, std::forward<Range>(items), chunksize);  // (only reports why f cannot be a task)
        else
            return map_async(f, std::forward<Range>(items), chunksize).get();
    }
    template <class F, class Range>
        requires std::ranges::input_range<Range>
    auto map_async(F f, Range&& items, std::size_t chunksize = 0,
                   Callbacks<detail::MapOut<detail::ResultFor<F, detail::ArgsFor<F, std::tuple<std::ranges::range_value_t<Range>>>>>> cb = {}) {
        return map_impl<false>(f, std::forward<Range>(items), chunksize, std::move(cb));
    }
    /// f(args...) for every tuple of arguments in `items`.
    template <class F, class Range>
    auto starmap(F f, Range&& items, std::size_t chunksize = 0) {
        if constexpr (std::is_void_v<decltype(starmap_async(f, std::forward<Range>(items), chunksize))>)
            starmap_async(f, std::forward<Range>(items), chunksize);  // (only reports why f cannot be a task)
        else
            return starmap_async(f, std::forward<Range>(items), chunksize).get();
    }
    template <class F, class Range>
        requires std::ranges::input_range<Range>
    auto starmap_async(F f, Range&& items, std::size_t chunksize = 0,
                       Callbacks<detail::MapOut<detail::ResultFor<F, detail::ArgsFor<F, std::ranges::range_value_t<Range>>>>> cb = {}) {
        return map_impl<true>(f, std::forward<Range>(items), chunksize, std::move(cb));
    }

    /// Results one by one in order (imap) or as they finish (imap_unordered). A range that can be
    /// read only once is read to its end first.
    template <class F, class Range>
        requires std::ranges::input_range<Range>
    auto imap(F f, Range&& items, std::size_t chunksize = 1) {
        return imap_impl(f, std::forward<Range>(items), chunksize, true);
    }
    template <class F, class Range>
        requires std::ranges::input_range<Range>
    auto imap_unordered(F f, Range&& items, std::size_t chunksize = 1) {
        return imap_impl(f, std::forward<Range>(items), chunksize, false);
    }

    /// No more tasks; the workers leave once the queued ones are done.
    void close() { core_->close(); }
    /// Kills the workers now; unfinished tasks fail (IpcErrc::closed).
    void terminate() { core_->terminate(); }
    /// After close() or terminate(): waits for the workers to leave. False when `timeout` passed.
    bool join(Timeout timeout = std::nullopt) { return core_->join(timeout); }

    unsigned processes() const noexcept { return core_->processes(); }
    /// The current workers' PIDs.
    std::vector<pid_t> pids() const { return core_->pids(); }

private:
    template <class F, class... A>
    static PoolOptions with_initializer(PoolOptions o, F&& f, A&&... args) {
        o.initializer = [fn = std::forward<F>(f), ... as = std::forward<A>(args)]() mutable { std::invoke(fn, as...); };
        return o;
    }

    template <class Args, class F>
    void submit(const F& f, std::uint64_t id, std::uint32_t chunk, std::uint32_t count, std::string_view args) {
        core_->put_task(id, chunk, count, std::string_view(reinterpret_cast<const char*>(&f), sizeof(F)), &detail::trampoline<F, Args>,
                        args);
    }

    template <class Args, bool Star, class F, class Range>
    void submit_chunks(const F& f, std::uint64_t id, Range& items, std::size_t chunksize) {
        std::string buf;
        std::uint32_t chunk = 0, count = 0;
        for (const auto& item : items) {
            detail::encode_item<Args, Star>(buf, item);
            if (++count == chunksize) {
                submit<Args>(f, id, chunk++, count, buf);
                buf.clear();
                count = 0;
            }
        }
        if (count) submit<Args>(f, id, chunk, count, buf);
    }

    /// The range, read once into a vector when it cannot be read twice (counted, then encoded).
    template <class Range, class Then>
    static decltype(auto) multipass(Range&& items, Then&& then) {
        if constexpr (std::ranges::forward_range<Range>) {
            return then(items, static_cast<std::size_t>(std::ranges::distance(items)));
        } else {
            std::vector<std::ranges::range_value_t<Range>> all;
            for (auto&& v : items) all.emplace_back(std::forward<decltype(v)>(v));
            return then(all, all.size());
        }
    }

    template <bool Star, class F, class Range, class Out>
    auto map_impl(F f, Range&& items, std::size_t chunksize, Callbacks<Out> cb) {
        using Value = std::ranges::range_value_t<Range>;
        using Given = std::conditional_t<Star, Value, std::tuple<Value>>;
        using Args = detail::ArgsFor<F, Given>;
        if constexpr (detail::check_task<F, Args>()) {
            using R = detail::ResultFor<F, Args>;
            static_assert(std::is_same_v<Out, detail::MapOut<R>>);
            return multipass(std::forward<Range>(items), [&](auto& all, std::size_t n) {
                if (chunksize == 0) chunksize = core_->default_chunksize(n);
                auto state = std::make_shared<detail::ResultState<Out>>();
                if (n == 0) {
                    if (cb.callback) cb.callback(Out{});
                    state->finish_value(Out{});
                    return AsyncResult<Out>(state);
                }
                std::uint64_t id = core_->add_job(std::make_shared<detail::MapJob<R>>(state, std::move(cb), n, chunksize));
                submit_chunks<Args, Star>(f, id, all, chunksize);
                return AsyncResult<Out>(state);
            });
        }
    }

    template <class F, class Range>
    auto imap_impl(F f, Range&& items, std::size_t chunksize, bool ordered) {
        using Args = detail::ArgsFor<F, std::tuple<std::ranges::range_value_t<Range>>>;
        if constexpr (detail::check_task<F, Args>()) {
            using R = detail::ResultFor<F, Args>;
            static_assert(!std::is_void_v<R>, "prockit::Pool::imap needs a function that returns a value (use map for one that does not)");
            if (chunksize == 0) chunksize = 1;
            return multipass(std::forward<Range>(items), [&](auto& all, std::size_t n) {
                auto state = std::make_shared<detail::IMapState<R>>();
                state->ordered = ordered;
                state->chunks = (n + chunksize - 1) / chunksize;
                IMapIterator<R> it(state, n);
                it.set_chunksize(chunksize);
                if (n == 0) return it;
                std::uint64_t id = core_->add_job(std::make_shared<detail::IMapJob<R>>(state, n, chunksize));
                submit_chunks<Args, false>(f, id, all, chunksize);
                return it;
            });
        }
    }

    std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace prockit
