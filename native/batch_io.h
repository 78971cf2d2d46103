// The plain (no offload) batch I/O cores, shared by the NativeAddon functions in batch_io.cc and by the
// offload paths when an offload is off or refused.
#pragma once

#include <napi.h>

#include <cstdint>

#include "batch.h"

namespace tartan {

// sendmmsg/recvmmsg take at most UIO_MAXIOV messages per call (net/socket.c).
constexpr unsigned kMaxMsgs = 1024;

// Reads the common arguments of the batch calls: (fd, batch, then `k` integers named `names`). Every
// argument's type is checked before anything else. Returns false with *result set (undefined after a
// TypeError, or -errno) when the call cannot proceed.
bool CommonArgs(const Napi::CallbackInfo& info, const char* fn, const char* const* names, int64_t* nums,
                size_t k, int* fd, Batch** batch, Napi::Value* result);

// The three argument shapes of the batch calls on top of CommonArgs. Each returns false as CommonArgs does;
// a value out of range does not fail here (the caller checks its remaining arguments first) but comes back
// as -1, which the caller answers with -EINVAL:
// (fd, batch, max): *limit = min(max, capacity), or -1 when max < 0;
bool ReadArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* limit, Napi::Value* result);
// (fd, batch, count): *count, or -1 when it is outside 0..capacity;
bool CountArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* count, Napi::Value* result);
// (fd, batch, start, count): *start and *end = count, or *start = -1 unless 0 <= start <= count <= capacity.
bool RangeArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* start, int64_t* end,
               Napi::Value* result);

// True when packet i's [offset, offset + length) lies inside the slab.
inline bool InSlab(const Batch* b, uint32_t i) {
  return static_cast<uint64_t>(b->offsets[i]) + b->lengths[i] <= b->slab_len;
}

// sendmmsg of packets [start, end), one datagram per message; see udpSend in src/io/native.ts. Returns the
// index of the first packet not handled.
uint32_t UdpSendPlain(int fd, Batch* b, uint32_t start, uint32_t end);

// recvmmsg of up to `limit` (<= capacity) datagrams into slots [0, limit); see udpRecv. Count or -errno.
int UdpRecvPlain(int fd, Batch* b, uint32_t limit);

}  // namespace tartan
