// TUN I/O with IFF_VNET_HDR: reads split super-packets into ordinary packets in the batch's slots; writes
// coalesce runs of one flow into super-packets. The engine above sees only ordinary IPv4 packets.
#include <errno.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "batch_io.h"
#include "functions.h"
#include "offload.h"
#include "offload_state.h"

namespace tartan {
namespace {

inline uint8_t* SlotAt(Batch* b, uint32_t i) {
  return b->slab + static_cast<size_t>(i) * b->slot_size + b->headroom;
}

inline void SetEntry(Batch* b, uint32_t i, const uint8_t* at, uint32_t len) {
  b->offsets[i] = static_cast<uint32_t>(at - b->slab);
  b->lengths[i] = len;
  b->status[i] = 0;
}

int WritevSink(void* ctx, const struct iovec* iov, int iovcnt) {
  const int fd = *static_cast<int*>(ctx);
  for (;;) {
    ssize_t w = writev(fd, iov, iovcnt);
    if (w >= 0) return 0;
    if (errno != EINTR) return errno == EWOULDBLOCK ? EAGAIN : errno;
  }
}

}  // namespace

uint32_t TunDrain(TunOffload* st, Batch* b, uint32_t i, uint32_t limit) {
  const size_t room = b->slot_size - b->headroom;
  uint32_t k = i;
  while (k < limit && st->sp.active) {
    uint8_t* at = SlotAt(b, k);
    const uint32_t len = EmitSegment(&st->sp, at, room);
    if (len == 0) break;
    SetEntry(b, k, at, len);
    k++;
  }
  st->stats[kTunSegments] += k - i;
  return k - i;
}

uint32_t TunIngest(TunOffload* st, Batch* b, uint32_t i, uint32_t limit, size_t n) {
  const size_t room = b->slot_size - b->headroom;
  uint8_t* at = SlotAt(b, i);
  const VnetHdr h = DecodeVnetHdr(st->vnet_in);
  if ((h.gso_type & static_cast<uint8_t>(~kGsoEcn)) == kGsoNone) {
    if (n > room || n == 0) {
      st->stats[kTunBadFrames]++;
      return 0;
    }
    if ((h.flags & kVnetFlagNeedsCsum) != 0) {
      if (!CompleteChecksum(h, at, n)) {
        st->stats[kTunBadFrames]++;
        return 0;
      }
      st->stats[kTunCsumCompleted]++;
    }
    SetEntry(b, i, at, static_cast<uint32_t>(n));
    return 1;
  }
  const size_t head = n < room ? n : room;
  if (PrepareSuperPacket(h, at, head, n, room, &st->sp) != kSplitOk) {
    st->sp.active = false;
    st->stats[kTunBadFrames]++;
    return 0;
  }
  st->sp.span[0] = at + st->sp.hdr_len;
  st->sp.span_len[0] = static_cast<uint32_t>(head - st->sp.hdr_len);
  st->sp.span[1] = st->scratch.get();
  st->sp.span_len[1] = static_cast<uint32_t>(n - head);
  st->stats[kTunSuperPackets]++;
  // Segment 0 is fixed in place in slot i; segments 1.. are copied into the following slots (segment 0's
  // rewrite touches only its header, which the others take from the saved copy).
  const uint32_t got = TunDrain(st, b, i, limit);
  if (st->sp.active) SaveRemainder(&st->sp, st->pending.get());
  return got;
}

uint32_t TunExecuteWrites(TunOffload* st, Batch* b, uint32_t count, bool tcp, bool udp, WriteSink sink, void* ctx) {
  // Packets outside the slab are planned as empty (never merged) and refused with EINVAL below.
  uint32_t* offs = st->offs.get();
  uint32_t* lens = st->lens.get();
  for (uint32_t i = 0; i < count; i++) {
    const bool ok = InSlab(b, i);
    offs[i] = ok ? b->offsets[i] : 0;
    lens[i] = ok ? b->lengths[i] : 0;
  }
  Coalescer& co = st->coalescer;
  const uint32_t nw = co.Plan(b->slab, offs, lens, count, tcp, udp);
  int err = 0;
  for (uint32_t w = 0; w < nw; w++) {
    const PlannedWrite& wr = co.write(w);
    if (err == EAGAIN) {
      for (uint32_t j = wr.first; j != UINT32_MAX; j = co.next(j)) b->status[j] = EAGAIN;
      continue;
    }
    int rc;
    if (wr.count == 1) {
      if (!InSlab(b, wr.first)) {
        b->status[wr.first] = EINVAL;
        continue;
      }
      struct iovec iov[2] = {{st->vnet_zero, kVnetHdrLen}, {b->slab + b->offsets[wr.first], b->lengths[wr.first]}};
      rc = sink(ctx, iov, 2);
      b->status[wr.first] = rc;
    } else {
      VnetHdr vh;
      const uint32_t hl = co.MergedHeaders(b->slab, offs, w, st->merged_hdr, &vh);
      EncodeVnetHdr(vh, st->vnet_out);
      struct iovec* iov = st->wiov;
      int n = 0;
      iov[n++] = {st->vnet_out, kVnetHdrLen};
      iov[n++] = {st->merged_hdr, hl};
      for (uint32_t j = wr.first; j != UINT32_MAX; j = co.next(j)) {
        iov[n++] = {b->slab + offs[j] + hl, lens[j] - hl};
      }
      rc = sink(ctx, iov, n);
      for (uint32_t j = wr.first; j != UINT32_MAX; j = co.next(j)) b->status[j] = rc;
      if (rc == 0) {
        st->stats[kTunMergedWrites]++;
        st->stats[kTunMergedPackets] += wr.count;
      }
    }
    if (rc != EAGAIN) st->stats[kTunWrites]++;
    err = rc;
  }
  return nw;
}

// tunSetOffload(fd, flags): TUNSETOFFLOAD with TUN_F_* bits. 0 or -errno (EINVAL: the kernel refuses a bit).
Napi::Value TunSetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = 0, flags = 0;
  if (!ArgInt(info, 0, "tunSetOffload", "fd", INT32_MIN, INT32_MAX, &fd) ||
      !ArgInt(info, 1, "tunSetOffload", "flags", 0, 0xffff, &flags))
    return env.Undefined();
  if (fd < 0) return Num(env, -EBADF);
  if (ioctl(static_cast<int>(fd), TUNSETOFFLOAD, static_cast<unsigned long>(flags)) < 0) return Num(env, -errno);
  return Num(env, 0);
}

// tunReadOffload(fd, batch, max, state): like tunRead on a TUN opened with IFF_VNET_HDR: each frame's
// virtio header is consumed; super-packets are split into consecutive slots (a rest that does not fit
// waits in the state for the next call); NEEDS_CSUM frames get their checksum. Count, or -errno.
Napi::Value TunReadOffload(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  static const char* const kNames[] = {"max"};
  int64_t max = 0;
  Napi::Value result;
  if (!CommonArgs(info, "tunReadOffload", kNames, &max, 1, &fd, &b, &result)) return result;
  TunOffload* st = TunOffloadArg(info, 3, "tunReadOffload");
  Napi::Env env = info.Env();
  if (st == nullptr) return env.Undefined();
  if (max < 0) return Num(env, -EINVAL);
  const uint32_t limit = max < b->capacity ? static_cast<uint32_t>(max) : b->capacity;
  const size_t room = b->slot_size - b->headroom;
  uint32_t i = 0;
  if (st->sp.active) i += TunDrain(st, b, 0, limit);
  while (i < limit && !st->sp.active) {
    struct iovec iov[3] = {{st->vnet_in, kVnetHdrLen}, {SlotAt(b, i), room}, {st->scratch.get(), kTunScratch}};
    ssize_t n = readv(fd, iov, 3);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || i > 0) break;
      return Num(env, -errno);
    }
    if (n == 0) break;
    st->stats[kTunReads]++;
    if (static_cast<size_t>(n) < kVnetHdrLen) {
      st->stats[kTunBadFrames]++;
      continue;
    }
    i += TunIngest(st, b, i, limit, static_cast<size_t>(n) - kVnetHdrLen);
  }
  return Num(env, i);
}

// tunWriteOffload(fd, batch, count, state, coalesce): like tunWrite on a TUN opened with IFF_VNET_HDR;
// coalesce bit 1 merges TCP runs (needs TSO4 accepted), bit 2 UDP runs (needs USO4). Each packet's status
// is that of the write that carried it. Returns count (packets behind an EAGAIN get status EAGAIN).
Napi::Value TunWriteOffload(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  static const char* const kNames[] = {"count"};
  int64_t count = 0;
  Napi::Value result;
  if (!CommonArgs(info, "tunWriteOffload", kNames, &count, 1, &fd, &b, &result)) return result;
  TunOffload* st = TunOffloadArg(info, 3, "tunWriteOffload");
  Napi::Env env = info.Env();
  int64_t flags = 0;
  if (st == nullptr || !ArgInt(info, 4, "tunWriteOffload", "coalesce", 0, 3, &flags)) return env.Undefined();
  if (count < 0 || count > b->capacity) return Num(env, -EINVAL);
  TunExecuteWrites(st, b, static_cast<uint32_t>(count), (flags & 1) != 0, (flags & 2) != 0, WritevSink, &fd);
  return Num(env, static_cast<double>(count));
}

}  // namespace tartan
