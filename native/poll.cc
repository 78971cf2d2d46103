// pollStart/pollUpdate/pollClose: a uv_poll_t on the environment's event loop per watched fd, calling a JS
// function once per wakeup with the ready events (1 readable, 2 writable).
//
// Lifetime: a PollHandle is owned jointly by its JS handle object (an External) and by libuv until
// uv_close() completes; it is freed when both have let go, so a stale handle passed after pollClose is
// recognised (closed) instead of dangling. An async cleanup hook closes the polls still open when the
// environment shuts down (worker exit), and Node waits for their close callbacks.
//
// Per-environment state (the list of polls) is this addon's instance data.
#include "poll.h"

#include <errno.h>
#include <uv.h>

#include <algorithm>
#include <vector>

#include "args.h"
#include "functions.h"

namespace tartan {
namespace {

constexpr int kEventMask = UV_READABLE | UV_WRITABLE;  // 1 and 2, the values of POLL_READABLE/WRITABLE
static_assert(UV_READABLE == 1 && UV_WRITABLE == 2, "events cross to JS unchanged");

// Tags our handle objects (see batch.cc).
const napi_type_tag kPollTag = {0x74617274616e2d70ULL, 0x6f6c6c2d76303031ULL};

struct PollHandle;

struct PollRegistry {
  std::vector<PollHandle*> polls;  // every poll not yet through its close callback
  napi_async_cleanup_hook_handle cleanup = nullptr;
  bool tearing_down = false;
};

struct PollHandle {
  uv_poll_t uv;
  napi_env env = nullptr;
  PollRegistry* registry = nullptr;
  Napi::FunctionReference cb;
  napi_async_context context = nullptr;
  int fd = -1;
  int events = 0;        // current interest
  bool closed = false;   // pollClose (or teardown) happened: never call back again
  int owners = 2;        // the JS handle object and libuv
};

void Release(PollHandle* p) {
  if (--p->owners == 0) delete p;
}

// The async context is destroyed here, after uv_close completed, never while a callback may be running.
void DestroyContext(PollHandle* p) {
  if (p->context == nullptr) return;
  napi_async_destroy(p->env, p->context);
  p->context = nullptr;
}

void OnClosed(uv_handle_t* h) {
  PollHandle* p = static_cast<PollHandle*>(h->data);
  PollRegistry* r = p->registry;
  if (p->context != nullptr) {
    Napi::HandleScope scope(p->env);
    DestroyContext(p);
  }
  r->polls.erase(std::remove(r->polls.begin(), r->polls.end(), p), r->polls.end());
  if (r->tearing_down && r->polls.empty() && r->cleanup != nullptr) {
    napi_async_cleanup_hook_handle hook = r->cleanup;
    r->cleanup = nullptr;
    napi_remove_async_cleanup_hook(hook);
  }
  Release(p);
}

// Stops watching and starts uv_close; the callback reference goes at once (it may be the running function:
// it stays alive on the JS stack).
void ClosePoll(PollHandle* p) {
  if (p->closed) return;
  p->closed = true;
  uv_poll_stop(&p->uv);
  p->cb.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&p->uv), OnClosed);
}

void OnPoll(uv_poll_t* h, int status, int events) {
  PollHandle* p = static_cast<PollHandle*>(h->data);
  if (p->closed) return;
  int ready = events & kEventMask;
  if (status < 0) {
    // libuv reports a socket error (POLLERR) this way and stops the watcher. Hand the owner its interest
    // bits so its next read/write surfaces the error, then re-arm: the error is usually transient.
    ready = p->events;
  }
  if (ready != 0) {
    Napi::Env env(p->env);
    Napi::HandleScope scope(env);
    napi_value argv[1] = {Napi::Number::New(env, ready)};
    napi_value result;
    napi_status s = napi_make_callback(p->env, p->context, env.Global(), p->cb.Value(), 1, argv, &result);
    if (s == napi_pending_exception || env.IsExceptionPending()) {
      // The handler threw: report it like any uncaught exception ('uncaughtException' or exit).
      napi_value error;
      napi_get_and_clear_last_exception(p->env, &error);
      napi_fatal_exception(p->env, error);
    }
  }
  if (status < 0 && !p->closed && p->events != 0) uv_poll_start(&p->uv, p->events, OnPoll);
}

// Environment teardown: close every poll still open and tell Node when the last close callback ran.
void OnTeardown(napi_async_cleanup_hook_handle hook, void* arg) {
  PollRegistry* r = static_cast<PollRegistry*>(arg);
  r->tearing_down = true;
  if (r->polls.empty()) {
    r->cleanup = nullptr;
    napi_remove_async_cleanup_hook(hook);
    return;
  }
  std::vector<PollHandle*> open(r->polls);
  for (PollHandle* p : open) {
    Napi::HandleScope scope(p->env);
    DestroyContext(p);
    ClosePoll(p);
  }
}

PollRegistry* Registry(Napi::Env env) {
  PollRegistry* r = env.GetInstanceData<PollRegistry>();
  if (r != nullptr) return r;
  r = new PollRegistry();
  env.SetInstanceData<PollRegistry>(r);  // deleted with the environment, after the cleanup hook finished
  if (napi_add_async_cleanup_hook(env, OnTeardown, r, &r->cleanup) != napi_ok) r->cleanup = nullptr;
  return r;
}

// Returns the PollHandle behind info[0], or nullptr after throwing a TypeError.
PollHandle* PollArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsExternal() ||
      !info[0].As<Napi::External<PollHandle>>().CheckTypeTag(&kPollTag)) {
    ThrowType(info.Env(), fn, "poll must be a handle returned by pollStart");
    return nullptr;
  }
  return info[0].As<Napi::External<PollHandle>>().Data();
}

}  // namespace

bool PollWatchesFd(Napi::Env env, int fd) {
  PollRegistry* r = env.GetInstanceData<PollRegistry>();
  if (r == nullptr) return false;
  for (const PollHandle* p : r->polls) {
    if (!p->closed && p->fd == fd) return true;
  }
  return false;
}

// pollStart(fd, events, cb): starts watching fd for the interest bits (0 = initialised but paused) and
// returns the handle object, or -errno (e.g. -EEXIST when fd is already watched, -EBADF). A handle object
// dropped without pollClose closes its poll when collected.
Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0, events = 0;
  if (!ArgInt(info, 0, "pollStart", "fd", INT32_MIN, INT32_MAX, &fd) ||
      !ArgInt(info, 1, "pollStart", "events", 0, kEventMask, &events))
    return env.Undefined();
  if (info.Length() < 3 || !info[2].IsFunction()) {
    ThrowType(env, "pollStart", "cb must be a function");
    return env.Undefined();
  }
  if (fd < 0) return Num(env, -EBADF);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Num(env, -EINVAL);
  PollRegistry* r = Registry(env);
  if (r->tearing_down) return Num(env, -ESHUTDOWN);

  PollHandle* p = new PollHandle();
  int rc = uv_poll_init(loop, &p->uv, static_cast<int>(fd));
  if (rc < 0) {
    delete p;  // uv_poll_init failed before registering the handle: nothing to close
    return Num(env, rc);
  }
  p->uv.data = p;
  p->env = env;
  p->registry = r;
  p->fd = static_cast<int>(fd);
  p->events = static_cast<int>(events);
  r->polls.push_back(p);
  if (events != 0) rc = uv_poll_start(&p->uv, p->events, OnPoll);
  if (rc < 0) {
    p->closed = true;
    p->owners = 1;  // no JS object will own it
    uv_close(reinterpret_cast<uv_handle_t*>(&p->uv), OnClosed);
    return Num(env, rc);
  }
  p->cb = Napi::Persistent(info[2].As<Napi::Function>());
  napi_async_init(env, nullptr, Napi::String::New(env, "tartan:poll"), &p->context);

  Napi::External<PollHandle> handle = Napi::External<PollHandle>::New(env, p, [](Napi::Env, PollHandle* q) {
    if (!q->closed) ClosePoll(q);
    Release(q);
  });
  handle.TypeTag(&kPollTag);
  return handle;
}

// pollUpdate(poll, events): changes the interest bits (0 pauses). 0 or -errno (-EBADF after pollClose).
Napi::Value PollUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PollHandle* p = PollArg(info, "pollUpdate");
  if (p == nullptr) return env.Undefined();
  int64_t events = 0;
  if (!ArgInt(info, 1, "pollUpdate", "events", 0, kEventMask, &events)) return env.Undefined();
  if (p->closed) return Num(env, -EBADF);
  p->events = static_cast<int>(events);
  int rc = events == 0 ? uv_poll_stop(&p->uv) : uv_poll_start(&p->uv, p->events, OnPoll);
  return Num(env, rc < 0 ? rc : 0);
}

// pollClose(poll): stops the poll for good; its callback is never called again. Idempotent.
Napi::Value PollClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PollHandle* p = PollArg(info, "pollClose");
  if (p == nullptr) return env.Undefined();
  ClosePoll(p);
  return env.Undefined();
}

}  // namespace tartan
