// Batched packet I/O between a registered batch's slab and a TUN or UDP fd: one JS call moves a whole batch.
// Every index that meets the slab is bounds-checked: a bad offset or length is EINVAL, never a wild access.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "batch_io.h"
#include "functions.h"

namespace tartan {

bool CommonArgs(const Napi::CallbackInfo& info, const char* fn, const char* const* names, int64_t* nums,
                size_t k, int* fd, Batch** batch, Napi::Value* result) {
  Napi::Env env = info.Env();
  *result = env.Undefined();
  int64_t fd64 = 0;
  if (!ArgInt(info, 0, fn, "fd", INT32_MIN, INT32_MAX, &fd64)) return false;
  int err = 0;
  Batch* b = BatchArg(info, 1, fn, &err);
  if (b == nullptr && err == 0) return false;
  for (size_t j = 0; j < k; j++) {
    if (!ArgInt(info, 2 + j, fn, names[j], INT32_MIN, INT32_MAX, &nums[j])) return false;
  }
  if (b == nullptr) {
    *result = Num(env, -err);
    return false;
  }
  if (fd64 < 0) {
    *result = Num(env, -EBADF);
    return false;
  }
  *fd = static_cast<int>(fd64);
  *batch = b;
  return true;
}

bool ReadArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* limit, Napi::Value* result) {
  static const char* const kNames[] = {"max"};
  int64_t max = 0;
  if (!CommonArgs(info, fn, kNames, &max, 1, fd, batch, result)) return false;
  *limit = max < 0 ? -1 : (max < (*batch)->capacity ? max : (*batch)->capacity);
  return true;
}

bool CountArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* count, Napi::Value* result) {
  static const char* const kNames[] = {"count"};
  if (!CommonArgs(info, fn, kNames, count, 1, fd, batch, result)) return false;
  if (*count < 0 || *count > (*batch)->capacity) *count = -1;
  return true;
}

bool RangeArgs(const Napi::CallbackInfo& info, const char* fn, int* fd, Batch** batch, int64_t* start, int64_t* end,
               Napi::Value* result) {
  static const char* const kNames[] = {"start", "count"};
  int64_t nums[2] = {0, 0};
  if (!CommonArgs(info, fn, kNames, nums, 2, fd, batch, result)) return false;
  const bool ok = nums[0] >= 0 && nums[1] <= (*batch)->capacity && nums[0] <= nums[1];
  *start = ok ? nums[0] : -1;
  *end = nums[1];
  return true;
}


int UdpRecvPlain(int fd, Batch* b, uint32_t limit) {
  if (limit > kMaxMsgs) limit = kMaxMsgs;
  if (limit == 0) return 0;
  const size_t room = b->slot_size - b->headroom;
  for (uint32_t i = 0; i < limit; i++) {
    struct iovec* iov = &b->iovs[i];
    iov->iov_base = b->slab + static_cast<size_t>(i) * b->slot_size + b->headroom;
    iov->iov_len = room;
    struct msghdr* h = &b->msgs[i].msg_hdr;
    h->msg_name = &b->names[i];
    h->msg_namelen = sizeof(struct sockaddr_in);
    h->msg_iov = iov;
    h->msg_iovlen = 1;
    h->msg_control = nullptr;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    b->msgs[i].msg_len = 0;
  }
  int n;
  do {
    n = recvmmsg(fd, b->msgs.get(), limit, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    b->offsets[i] = static_cast<uint32_t>(i) * b->slot_size + b->headroom;
    b->lengths[i] = b->msgs[i].msg_len;
    SenderOf(b->msgs[i].msg_hdr, b->names[i], &b->addrs[i], &b->ports[i]);
    b->status[i] = (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? EMSGSIZE : 0;
  }
  return n;
}

uint32_t UdpSendPlain(int fd, Batch* b, uint32_t start, uint32_t end) {
  uint32_t i = start;
  while (i < end) {
    if (!InSlab(b, i)) {
      b->status[i] = EINVAL;
      i++;
      continue;
    }
    // Build headers for the run of in-slab packets starting at i.
    uint32_t j = i;
    while (j < end && j - i < kMaxMsgs && InSlab(b, j)) {
      struct iovec* iov = &b->iovs[j];
      iov->iov_base = b->slab + b->offsets[j];
      iov->iov_len = b->lengths[j];
      PrepareSendMsg(&b->msgs[j].msg_hdr, &b->names[j], b->addrs[j], b->ports[j], iov, 1);
      j++;
    }
    while (i < j) {
      int n = sendmmsg(fd, &b->msgs[i], j - i, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return i;
        b->status[i] = errno;  // message i was refused; the rest are tried again
        i++;
        continue;
      }
      for (int k = 0; k < n; k++) b->status[i + k] = 0;
      i += static_cast<uint32_t>(n);
      if (i < j) {
        // A partial send means message i failed; the kernel parked that error on the socket (sk_err),
        // where it would fail the next receive and raise POLLERR. Clear it; retrying message i as the
        // first of the next call reports its errno directly.
        int pending = 0;
        socklen_t len = sizeof pending;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
      }
    }
  }
  return end;
}

// tunRead(fd, batch, max): one read() per frame into slot i at i*slotSize+headroom until EAGAIN or
// min(max, capacity) frames. Count read, or -errno when the first read fails with a hard error.
Napi::Value TunRead(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  int64_t max = 0;
  Napi::Value result;
  if (!ReadArgs(info, "tunRead", &fd, &b, &max, &result)) return result;
  Napi::Env env = info.Env();
  if (max < 0) return Num(env, -EINVAL);
  const uint32_t limit = static_cast<uint32_t>(max);
  const size_t room = b->slot_size - b->headroom;
  uint32_t i = 0;
  while (i < limit) {
    const uint32_t off = i * b->slot_size + b->headroom;
    ssize_t n = read(fd, b->slab + off, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || i > 0) break;
      return Num(env, -errno);
    }
    if (n == 0) break;
    b->offsets[i] = off;
    b->lengths[i] = static_cast<uint32_t>(n);
    b->status[i] = 0;
    i++;
  }
  return Num(env, i);
}

// tunWrite(fd, batch, count): one write() per packet [0, count); status[i] = 0 or errno (EINVAL when the
// packet is outside the slab). Number handled (fewer than count only on EAGAIN), or -errno for bad args.
Napi::Value TunWrite(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  int64_t count = 0;
  Napi::Value result;
  if (!CountArgs(info, "tunWrite", &fd, &b, &count, &result)) return result;
  Napi::Env env = info.Env();
  if (count < 0) return Num(env, -EINVAL);
  const uint32_t n = static_cast<uint32_t>(count);
  for (uint32_t i = 0; i < n; i++) {
    if (!InSlab(b, i)) {
      b->status[i] = EINVAL;
      continue;
    }
    ssize_t w;
    do {
      w = write(fd, b->slab + b->offsets[i], b->lengths[i]);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Num(env, i);
      b->status[i] = errno;
    } else {
      b->status[i] = 0;
    }
  }
  return Num(env, n);
}

// udpRecv(fd, batch, max): recvmmsg(MSG_DONTWAIT) up to min(max, capacity) datagrams into the slots, with
// the sender's address and port (host byte order) in addrs/ports; status[i] = EMSGSIZE when datagram i was
// truncated to the slot, else 0. Count received (0 when none was ready), or -errno.
Napi::Value UdpRecv(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  int64_t max = 0;
  Napi::Value result;
  if (!ReadArgs(info, "udpRecv", &fd, &b, &max, &result)) return result;
  Napi::Env env = info.Env();
  if (max < 0) return Num(env, -EINVAL);
  return Num(env, UdpRecvPlain(fd, b, static_cast<uint32_t>(max)));
}

// udpSend(fd, batch, start, count): sendmmsg packets [start, count) to addrs[i]:ports[i] straight from the
// slab. A packet refused with a hard error (or outside the slab: EINVAL) gets status[i] = errno and is
// skipped; sent packets get 0. Returns the index of the first packet not handled: count when all were,
// less when the socket would block (EAGAIN/ENOBUFS); -EINVAL when start/count are out of range.
Napi::Value UdpSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  Batch* b = nullptr;
  int64_t start = 0, end = 0;
  Napi::Value result;
  if (!RangeArgs(info, "udpSend", &fd, &b, &start, &end, &result)) return result;
  if (start < 0) return Num(env, -EINVAL);
  return Num(env, UdpSendPlain(fd, b, static_cast<uint32_t>(start), static_cast<uint32_t>(end)));
}

}  // namespace tartan
