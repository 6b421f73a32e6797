// prockit/pool/pool.hpp — Pool: a fixed set of worker processes that run functions for you
// (Python's multiprocessing.Pool).
//
//   int square(int x) { return x * x; }
//   prockit::Pool pool({.processes = 4});
//   std::vector<int> sq = pool.map(square, std::vector<int>{1, 2, 3});     // {1, 4, 9}
//   auto r = pool.apply_async(square, std::tuple{7}, {.callback = [](const int& v) { ... }});
//   int v = r.get(5s);
//
// What can run in a worker — the model. C++ closures cannot be shipped to another process: their
// captured state has no portable byte form. A Pool therefore runs *functions*: plain functions and
// captureless lambdas (anything that converts to a function pointer; checked at compile time).
// The workers are fork()ed copies of the program, so a function's address means the same code in
// them; what travels through the task queue is that address, the address of a small decoder made
// for the function's signature, and the arguments encoded with the codec (prockit/ipc/codec.hpp).
// Results and exceptions come back the same way. Data a task needs goes in its arguments (or is set
// up by `initializer`, or is global state that existed when the worker was forked — replacement
// workers are forked later and see the state of that time). Functions in libraries dlopen()ed
// after the pool started are not in the workers.
//
// Threads. A result-handler thread in the calling process receives results, completes the
// AsyncResults, runs `callback` / `error_callback` (so callbacks run on that thread, one at a time:
// keep them short, and do not wait on pool results from them), notices workers that died, and forks
// their replacements. Workers are forked from that thread (and get SIGKILL if it ends, i.e. if the
// pool's process dies). Forking from a threaded program copies only the forking thread: a task must
// not rely on locks another thread of the parent may have held at that moment.
//
// Failure. An exception thrown by a task reaches get() (and map()) as TaskError, code
// IpcErrc::task_failed, its message holding the exception's type and what(). A worker killed while
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

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
    /// Runs once in every worker when it starts (a function, like the tasks).
    void (*initializer)() = nullptr;
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

template <class F>
struct FnTraits;
template <class R, class... A>
struct FnTraits<R (*)(A...)> {
    using result = R;
    using args = std::tuple<std::remove_cvref_t<A>...>;
    static constexpr std::size_t arity = sizeof...(A);
};
template <class R, class... A>
struct FnTraits<R (*)(A...) noexcept> : FnTraits<R (*)(A...)> {};

template <class F>
concept Shippable = requires(F f) { +f; } && std::is_pointer_v<decltype(+std::declval<F>())> &&
                    std::is_function_v<std::remove_pointer_t<decltype(+std::declval<F>())>>;

template <class F>
constexpr void require_shippable() {
    static_assert(Shippable<F>,
                  "prockit::Pool runs functions and captureless lambdas only: C++ closures cannot be shipped to "
                  "another process. Pass what the lambda captures as arguments instead.");
}
template <class F>
using FnPtr = decltype(+std::declval<F>());
template <class F>
using ResultOf = typename FnTraits<FnPtr<F>>::result;
template <class F>
using ArgsOf = typename FnTraits<FnPtr<F>>::args;

/// Decodes `count` argument tuples, calls the function on each, encodes each result.
using Trampoline = void (*)(std::uintptr_t fn, Reader& in, std::uint32_t count, std::string& out);

template <class Tuple>
struct DecodeArgs;
template <class... A>
struct DecodeArgs<std::tuple<A...>> {
    static std::tuple<A...> decode(Reader& r) { return std::tuple<A...>{Codec<A>::decode(r)...}; }
};

template <class FP>
void trampoline(std::uintptr_t fn, Reader& in, std::uint32_t count, std::string& out) {
    auto f = reinterpret_cast<FP>(fn);
    using T = FnTraits<FP>;
    Writer w(out);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto args = DecodeArgs<typename T::args>::decode(in);
        if constexpr (std::is_void_v<typename T::result>) {
            std::apply(f, std::move(args));
        } else {
            Codec<typename T::result>::encode(w, std::apply(f, std::move(args)));
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
    virtual bool on_error(std::uint32_t chunk, std::error_code code, const std::string& message) = 0;
};

class PoolCore;

/// Every task of a job decodes into the typed Job subclasses below.
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
inline void run_error_callback(const std::function<void(const TaskError&)>& cb, std::error_code code, const std::string& m) {
    if (!cb) return;
    try {
        cb(TaskError(Error(code, m)));
    } catch (...) {
    }
}

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
            return on_error(0, e.code(), e.what());
        }
        return true;
    }
    bool on_error(std::uint32_t, std::error_code code, const std::string& message) override {
        run_error_callback(cb_.error_callback, code, message);
        s_->finish_error(code, message);
        return true;
    }

private:
    std::shared_ptr<ResultState<R>> s_;
    Callbacks<R> cb_;
};

template <class R>
class MapJob final : public JobBase {
public:
    MapJob(std::shared_ptr<ResultState<std::vector<R>>> s, Callbacks<std::vector<R>> cb, std::size_t n, std::size_t chunksize)
        : s_(std::move(s)), cb_(std::move(cb)), results_(n), chunksize_(chunksize),
          left_(chunksize ? (n + chunksize - 1) / chunksize : 0) {}
    bool on_chunk(std::uint32_t chunk, std::string_view payload) override {
        if (failed_) return --left_ == 0;
        std::size_t at = std::size_t{chunk} * chunksize_;
        std::size_t count = std::min(chunksize_, results_.size() - at);
        try {
            Reader r(payload);
            decode_results(r, count, results_, at);
        } catch (const CodecError& e) {
            on_error(chunk, e.code(), e.what());
            return left_ == 0;
        }
        if (--left_ == 0) {
            run_callback(cb_.callback, results_);
            s_->finish_value(std::move(results_));
            return true;
        }
        return false;
    }
    bool on_error(std::uint32_t, std::error_code code, const std::string& message) override {
        if (!failed_) {
            failed_ = true;
            run_error_callback(cb_.error_callback, code, message);
            s_->finish_error(code, message);
        }
        return --left_ == 0;
    }

private:
    std::shared_ptr<ResultState<std::vector<R>>> s_;
    Callbacks<std::vector<R>> cb_;
    std::vector<R> results_;
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
    std::map<std::size_t, std::pair<std::error_code, std::string>> errors;
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
            return on_error(chunk, e.code(), e.what());
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
    bool on_error(std::uint32_t chunk, std::error_code code, const std::string& message) override {
        {
            std::lock_guard g(s_->m);
            s_->errors.emplace(chunk, std::make_pair(code, message));
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
    void put_task(std::uint64_t job, std::uint32_t chunk, std::uint32_t count, std::uintptr_t fn, Trampoline t, std::string_view args);
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
    /// The next result; std::nullopt when all were handed out. TaskError for an item whose task
    /// failed, TimeoutError when none came in time.
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
        auto* e = failed_chunk();
        auto err = *e;
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
        throw TaskError(Error(err.first, err.second));
    }

    // Range-for support (no timeout; a failed item throws from operator++/begin()).
    struct Sentinel {};
    class Iter {
    public:
        explicit Iter(IMapIterator* it) : it_(it) { ++*this; }
        const R& operator*() const { return *cur_; }
        Iter& operator++() {
            cur_ = it_->next();
            return *this;
        }
        bool operator==(Sentinel) const { return !cur_.has_value(); }

    private:
        IMapIterator* it_;
        std::optional<R> cur_;
    };
    Iter begin() { return Iter(this); }
    Sentinel end() { return {}; }
    void set_chunksize(std::size_t c) { chunksize_ = c; }

private:
    std::size_t chunksize() const { return chunksize_ ? chunksize_ : 1; }
    const std::pair<std::error_code, std::string>* failed_chunk() const {
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
    explicit Pool(PoolOptions options = {}) : core_(std::make_unique<detail::PoolCore>(options)) {}
    ~Pool() = default;  // the core terminates the workers
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Runs f(args...) in a worker and waits for its result.
    template <class F, class... A>
    auto apply(F f, const A&... args) {
        return apply_async(f, std::tuple<A...>(args...)).get();
    }

    template <class F, class... A>
    AsyncResult<detail::ResultOf<F>> apply_async(F f, const std::tuple<A...>& args, Callbacks<detail::ResultOf<F>> cb = {}) {
        detail::require_shippable<F>();
        using R = detail::ResultOf<F>;
        using Args = detail::ArgsOf<F>;
        static_assert(std::tuple_size_v<Args> == sizeof...(A), "prockit::Pool::apply_async: wrong number of arguments");
        auto state = std::make_shared<detail::ResultState<R>>();
        std::uint64_t id = core_->add_job(std::make_shared<detail::ApplyJob<R>>(state, std::move(cb)));
        std::string buf;
        std::apply([&](const auto&... v) { detail::encode_args<Args>(buf, v...); }, args);
        submit(f, id, 0, 1, buf);
        return AsyncResult<R>(state);
    }

    /// f over every item, in order; the items are cut into chunks of `chunksize` (0: about
    /// len / (4 × processes), as Python does). The first failed chunk's TaskError is thrown.
    template <class F, class Range>
    auto map(F f, const Range& items, std::size_t chunksize = 0) {
        return map_async(f, items, chunksize).get();
    }
    template <class F, class Range>
    AsyncResult<std::vector<detail::ResultOf<F>>> map_async(F f, const Range& items, std::size_t chunksize = 0,
                                                            Callbacks<std::vector<detail::ResultOf<F>>> cb = {}) {
        return map_impl<false>(f, items, chunksize, std::move(cb));
    }
    /// f(args...) for every tuple of arguments in `items`.
    template <class F, class Range>
    auto starmap(F f, const Range& items, std::size_t chunksize = 0) {
        return starmap_async(f, items, chunksize).get();
    }
    template <class F, class Range>
    AsyncResult<std::vector<detail::ResultOf<F>>> starmap_async(F f, const Range& items, std::size_t chunksize = 0,
                                                                Callbacks<std::vector<detail::ResultOf<F>>> cb = {}) {
        return map_impl<true>(f, items, chunksize, std::move(cb));
    }

    /// Results one by one in order (imap) or as they finish (imap_unordered).
    template <class F, class Range>
    IMapIterator<detail::ResultOf<F>> imap(F f, const Range& items, std::size_t chunksize = 1) {
        return imap_impl(f, items, chunksize, true);
    }
    template <class F, class Range>
    IMapIterator<detail::ResultOf<F>> imap_unordered(F f, const Range& items, std::size_t chunksize = 1) {
        return imap_impl(f, items, chunksize, false);
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
    template <class F>
    void submit(F f, std::uint64_t id, std::uint32_t chunk, std::uint32_t count, std::string_view args) {
        using FP = detail::FnPtr<F>;
        FP fp = +f;
        core_->put_task(id, chunk, count, reinterpret_cast<std::uintptr_t>(fp), &detail::trampoline<FP>, args);
    }

    template <bool Star, class F, class Range>
    void submit_chunks(F f, std::uint64_t id, const Range& items, std::size_t chunksize) {
        using Args = detail::ArgsOf<F>;
        std::string buf;
        std::uint32_t chunk = 0, count = 0;
        for (const auto& item : items) {
            detail::encode_item<Args, Star>(buf, item);
            if (++count == chunksize) {
                submit(f, id, chunk++, count, buf);
                buf.clear();
                count = 0;
            }
        }
        if (count) submit(f, id, chunk, count, buf);
    }

    template <bool Star, class F, class Range>
    AsyncResult<std::vector<detail::ResultOf<F>>> map_impl(F f, const Range& items, std::size_t chunksize,
                                                           Callbacks<std::vector<detail::ResultOf<F>>> cb) {
        detail::require_shippable<F>();
        using R = detail::ResultOf<F>;
        static_assert(!std::is_void_v<R>, "prockit::Pool::map needs a function that returns a value");
        std::size_t n = static_cast<std::size_t>(std::distance(std::begin(items), std::end(items)));
        if (chunksize == 0) chunksize = core_->default_chunksize(n);
        auto state = std::make_shared<detail::ResultState<std::vector<R>>>();
        if (n == 0) {
            if (cb.callback) cb.callback({});
            state->finish_value({});
            return AsyncResult<std::vector<R>>(state);
        }
        std::uint64_t id = core_->add_job(std::make_shared<detail::MapJob<R>>(state, std::move(cb), n, chunksize));
        submit_chunks<Star>(f, id, items, chunksize);
        return AsyncResult<std::vector<R>>(state);
    }

    template <class F, class Range>
    IMapIterator<detail::ResultOf<F>> imap_impl(F f, const Range& items, std::size_t chunksize, bool ordered) {
        detail::require_shippable<F>();
        using R = detail::ResultOf<F>;
        static_assert(!std::is_void_v<R>, "prockit::Pool::imap needs a function that returns a value");
        if (chunksize == 0) chunksize = 1;
        std::size_t n = static_cast<std::size_t>(std::distance(std::begin(items), std::end(items)));
        auto state = std::make_shared<detail::IMapState<R>>();
        state->ordered = ordered;
        state->chunks = (n + chunksize - 1) / chunksize;
        IMapIterator<R> it(state, n);
        it.set_chunksize(chunksize);
        if (n == 0) return it;
        std::uint64_t id = core_->add_job(std::make_shared<detail::IMapJob<R>>(state, n, chunksize));
        submit_chunks<false>(f, id, items, chunksize);
        return it;
    }

    std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace prockit
