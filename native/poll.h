// Readiness watching with libuv (uv_poll_t) on the Node event loop; see poll.cc.
#pragma once

#include <napi.h>

namespace tartan {

// True when an open poll of this environment watches fd (closing fd then would break libuv's epoll set).
bool PollWatchesFd(Napi::Env env, int fd);

}  // namespace tartan
