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

// Finishes a frame without GSO that already sits whole in slot i: completes its checksum when the header
// asks (NEEDS_CSUM) and records it. Returns 1, or 0 (counted as a bad frame) when it cannot be completed.
uint32_t AcceptPlainFrame(TunOffload* st, Batch* b, uint32_t i, const VnetHdr& h, uint8_t* at, size_t n) {
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
    return AcceptPlainFrame(st, b, i, h, at, n);
  }
  const size_t head = n < room ? n : room;
  if (PrepareSuperPacket(h, at, head, n, room, &st->sp) != kSplitOk) {
    st->sp.active = false;
    st->stats[kTunBadFrames]++;
    return 0;
  }
  if (st->sp.hdr_len + st->sp.gso_size <= room) {
    st->guess_hdr = st->sp.hdr_len;  // lay the next reads out for this shape (see LayOutScatter)
    st->guess_gso = st->sp.gso_size;
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

namespace {

// Lays out a scattered read at entry i, for super-packets shaped like the last one (header gh bytes,
// segments of gg): the virtio header; slot i for the headers and segment 0; then gg bytes at offset gh of
// each following slot, so segment k's payload lands where its packet will be; then scratch for the rest.
// Returns how many following slots the layout uses.
uint32_t LayOutScatter(TunOffload* st, Batch* b, uint32_t i, uint32_t limit) {
  const uint32_t gh = st->guess_hdr, gg = st->guess_gso;
  struct iovec* iov = st->riov;
  int n = 0;
  iov[n++] = {st->vnet_in, kVnetHdrLen};
  iov[n++] = {SlotAt(b, i), gh + gg};
  size_t covered = gh + gg;
  uint32_t k = i + 1;
  while (k < limit && n < kMaxReadIov - 1 && covered < kMaxSuperPacket + 40) {
    iov[n++] = {SlotAt(b, k) + gh, gg};
    covered += gg;
    k++;
  }
  iov[n++] = {st->scratch.get(), kTunScratch};
  st->riov_n = n;
  return k - i - 1;
}

// Copies bytes [off, off + len) of the packet (after the virtio header) out of the last scattered read.
void CopyFromRead(const TunOffload* st, size_t off, size_t len, uint8_t* dst) {
  for (int j = 1; j < st->riov_n && len > 0; j++) {
    const size_t l = st->riov[j].iov_len;
    if (off >= l) {
      off -= l;
      continue;
    }
    const size_t c = l - off < len ? l - off : len;
    std::memmove(dst, static_cast<const uint8_t*>(st->riov[j].iov_base) + off, c);
    dst += c;
    len -= c;
    off = 0;
  }
}

// TunIngest for a scattered read of n packet bytes (layout from LayOutScatter with `extra` slots). When the
// frame has the guessed shape, each segment is finished where its payload already is (only headers are
// written); otherwise the frame is gathered into the pending buffer and split from there.
uint32_t TunIngestScattered(TunOffload* st, Batch* b, uint32_t i, uint32_t limit, size_t n, uint32_t extra) {
  const size_t room = b->slot_size - b->headroom;
  const uint32_t gh = st->guess_hdr, gg = st->guess_gso;
  const size_t first = gh + gg;
  uint8_t* at = SlotAt(b, i);
  const VnetHdr h = DecodeVnetHdr(st->vnet_in);
  if ((h.gso_type & static_cast<uint8_t>(~kGsoEcn)) == kGsoNone) {
    if (n > room || n == 0) {
      st->stats[kTunBadFrames]++;
      return 0;
    }
    if (n > first) CopyFromRead(st, first, n - first, at + first);
    return AcceptPlainFrame(st, b, i, h, at, n);
  }
  SuperPacket& sp = st->sp;
  if (PrepareSuperPacket(h, at, n < first ? n : first, n, room, &sp) == kSplitOk && sp.hdr_len == gh && sp.gso_size == gg) {
    st->stats[kTunSuperPackets]++;
    st->stats[kTunSplitInPlace]++;
    uint32_t k = 0;
    while (sp.active && i + k < limit && k <= extra) {
      uint8_t* dst = SlotAt(b, i + k);
      // The segment's payload is already at dst + gh: point the span there so nothing is copied.
      sp.span[0] = dst + gh;
      sp.span_len[0] = sp.payload_len - sp.done < gg ? sp.payload_len - sp.done : gg;
      sp.span[1] = nullptr;
      sp.span_len[1] = 0;
      sp.span_off = sp.done;
      const uint32_t len = EmitSegment(&sp, dst, room);
      if (len == 0) break;
      SetEntry(b, i + k, dst, len);
      k++;
    }
    st->stats[kTunSegments] += k;
    if (sp.active) {
      const uint32_t rest = sp.payload_len - sp.done;
      CopyFromRead(st, gh + sp.done, rest, st->pending.get());
      sp.span[0] = st->pending.get();
      sp.span_len[0] = rest;
      sp.span[1] = nullptr;
      sp.span_len[1] = 0;
      sp.span_off = sp.done;
    }
    return k;
  }
  // Another shape: gather, split by copying, and expect this shape next time.
  if (n > kTunScratch) {
    sp.active = false;
    st->stats[kTunBadFrames]++;
    return 0;
  }
  CopyFromRead(st, 0, n, st->pending.get());
  if (PrepareSuperPacket(h, st->pending.get(), n, n, room, &sp) != kSplitOk) {
    sp.active = false;
    st->stats[kTunBadFrames]++;
    return 0;
  }
  if (sp.hdr_len + sp.gso_size <= room) {
    st->guess_hdr = sp.hdr_len;
    st->guess_gso = sp.gso_size;
  }
  sp.span[0] = st->pending.get() + sp.hdr_len;
  sp.span_len[0] = static_cast<uint32_t>(n - sp.hdr_len);
  sp.span[1] = nullptr;
  sp.span_len[1] = 0;
  st->stats[kTunSuperPackets]++;
  const uint32_t got = TunDrain(st, b, i, limit);
  if (sp.active) SaveRemainder(&sp, st->pending.get());
  return got;
}

}  // namespace

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

uint32_t TunReadLoop(TunOffload* st, Batch* b, int fd, uint32_t limit, int* err) {
  *err = 0;
  const size_t room = b->slot_size - b->headroom;
  uint32_t i = 0;
  if (st->sp.active) i += TunDrain(st, b, 0, limit);
  while (i < limit && !st->sp.active) {
    // Once a super-packet has been seen, reads are scattered so segments land in their slots directly.
    // Small frames keep the three-iovec layout, which costs the kernel less to import.
    const bool scatter = st->last_gso && st->guess_gso != 0 && st->guess_hdr + st->guess_gso <= room;
    uint32_t extra = 0;
    ssize_t n;
    if (scatter) {
      extra = LayOutScatter(st, b, i, limit);
      n = readv(fd, st->riov, st->riov_n);
    } else {
      struct iovec iov[3] = {{st->vnet_in, kVnetHdrLen}, {SlotAt(b, i), room}, {st->scratch.get(), kTunScratch}};
      n = readv(fd, iov, 3);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && i == 0) *err = errno;
      break;
    }
    if (n == 0) break;
    st->stats[kTunReads]++;
    if (static_cast<size_t>(n) < kVnetHdrLen) {
      st->stats[kTunBadFrames]++;
      continue;
    }
    const size_t len = static_cast<size_t>(n) - kVnetHdrLen;
    st->last_gso = (st->vnet_in[1] & static_cast<uint8_t>(~kGsoEcn)) != kGsoNone;
    i += scatter ? TunIngestScattered(st, b, i, limit, len, extra) : TunIngest(st, b, i, limit, len);
  }
  return i;
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
  int64_t max = 0;
  Napi::Value result;
  if (!ReadArgs(info, "tunReadOffload", &fd, &b, &max, &result)) return result;
  TunOffload* st = TunOffloadArg(info, 3, "tunReadOffload");
  Napi::Env env = info.Env();
  if (st == nullptr) return env.Undefined();
  if (max < 0) return Num(env, -EINVAL);
  const uint32_t limit = static_cast<uint32_t>(max);
  int err = 0;
  const uint32_t got = TunReadLoop(st, b, fd, limit, &err);
  if (got == 0 && err != 0) return Num(env, -err);
  return Num(env, got);
}

// tunWriteOffload(fd, batch, count, state, coalesce): like tunWrite on a TUN opened with IFF_VNET_HDR;
// coalesce bit 1 merges TCP runs (needs TSO4 accepted), bit 2 UDP runs (needs USO4). Each packet's status
// is that of the write that carried it. Returns count (packets behind an EAGAIN get status EAGAIN).
Napi::Value TunWriteOffload(const Napi::CallbackInfo& info) {
  int fd = -1;
  Batch* b = nullptr;
  int64_t count = 0;
  Napi::Value result;
  if (!CountArgs(info, "tunWriteOffload", &fd, &b, &count, &result)) return result;
  TunOffload* st = TunOffloadArg(info, 3, "tunWriteOffload");
  Napi::Env env = info.Env();
  int64_t flags = 0;
  if (st == nullptr || !ArgInt(info, 4, "tunWriteOffload", "coalesce", 0, 3, &flags)) return env.Undefined();
  if (count < 0) return Num(env, -EINVAL);
  TunExecuteWrites(st, b, static_cast<uint32_t>(count), (flags & 1) != 0, (flags & 2) != 0, WritevSink, &fd);
  return Num(env, static_cast<double>(count));
}

}  // namespace tartan
