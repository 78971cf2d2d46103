// Offload state handles (tunOffloadCreate, udpOffloadCreate), their counters (offloadStats), and the
// test-only entries that run the TUN offload paths over memory instead of a device (offloadSegment,
// offloadCoalesce), so splitting and coalescing are tested with byte fixtures without root.
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "args.h"
#include "batch.h"
#include "batch_io.h"
#include "functions.h"
#include "offload_state.h"

namespace tartan {
namespace {

const napi_type_tag kTunOffloadTag = {0x74617274616e2d74ULL, 0x756e6f66666c3031ULL};
const napi_type_tag kUdpOffloadTag = {0x74617274616e2d75ULL, 0x64706f66666c3031ULL};

const char* const kTunStatNames[kTunStatCount] = {
    "reads", "superPackets", "segments", "csumCompleted", "badFrames", "writes", "mergedWrites", "mergedPackets",
    "splitInPlace",
};
const char* const kUdpStatNames[kUdpStatCount] = {
    "gsoSends", "gsoDatagrams", "groReceives", "groDatagrams", "gsoFallbacks", "carried",
};

bool IsTagged(const Napi::Value& v, const napi_type_tag* tag) {
  if (!v.IsExternal()) return false;
  bool ok = false;
  return napi_check_object_type_tag(v.Env(), v, tag, &ok) == napi_ok && ok;
}

// Appends each write to a buffer as [u32 little-endian length][bytes], for offloadCoalesce.
struct BufferSink {
  uint8_t* out;
  size_t cap;
  size_t used;
  bool overflow;
};

int BufferWrite(void* ctx, const struct iovec* iov, int iovcnt) {
  BufferSink* s = static_cast<BufferSink*>(ctx);
  size_t total = 0;
  for (int k = 0; k < iovcnt; k++) total += iov[k].iov_len;
  if (s->used + 4 + total > s->cap) {
    s->overflow = true;
    return ENOSPC;
  }
  const uint32_t len = static_cast<uint32_t>(total);
  uint8_t* p = s->out + s->used;
  p[0] = static_cast<uint8_t>(len);
  p[1] = static_cast<uint8_t>(len >> 8);
  p[2] = static_cast<uint8_t>(len >> 16);
  p[3] = static_cast<uint8_t>(len >> 24);
  p += 4;
  for (int k = 0; k < iovcnt; k++) {
    std::memcpy(p, iov[k].iov_base, iov[k].iov_len);
    p += iov[k].iov_len;
  }
  s->used += 4 + total;
  return 0;
}

}  // namespace

TunOffload* TunOffloadArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (i >= info.Length() || !IsTagged(info[i], &kTunOffloadTag)) {
    ThrowType(info.Env(), fn, "state must be a handle returned by tunOffloadCreate");
    return nullptr;
  }
  return info[i].As<Napi::External<TunOffload>>().Data();
}

UdpOffload* UdpOffloadArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (i >= info.Length() || !IsTagged(info[i], &kUdpOffloadTag)) {
    ThrowType(info.Env(), fn, "state must be a handle returned by udpOffloadCreate");
    return nullptr;
  }
  return info[i].As<Napi::External<UdpOffload>>().Data();
}

// tunOffloadCreate(): the scratch and counters for one TUN device opened with IFF_VNET_HDR.
Napi::Value TunOffloadCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto h = Napi::External<TunOffload>::New(env, new TunOffload(), [](Napi::Env, TunOffload* p) { delete p; });
  h.TypeTag(&kTunOffloadTag);
  return h;
}

// udpOffloadCreate(gso, gro): the state for one UDP socket; gso/gro say what udpOffloadEnable found on.
Napi::Value UdpOffloadCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool gso = false, gro = false;
  if (!ArgBool(info, 0, "udpOffloadCreate", "gso", &gso) || !ArgBool(info, 1, "udpOffloadCreate", "gro", &gro))
    return env.Undefined();
  UdpOffload* st = new UdpOffload();
  st->gso = gso;
  st->gro = gro;
  st->send_cmsg.reset(new uint8_t[kMaxMsgs * CMSG_SPACE(sizeof(uint16_t))]());
  st->send_msgs.reset(new struct mmsghdr[kMaxMsgs]());
  st->send_names.reset(new struct sockaddr_in[kMaxMsgs]());
  st->group_first.reset(new uint32_t[kMaxMsgs]());
  st->group_end.reset(new uint32_t[kMaxMsgs]());
  auto h = Napi::External<UdpOffload>::New(env, st, [](Napi::Env, UdpOffload* p) { delete p; });
  h.TypeTag(&kUdpOffloadTag);
  return h;
}

// offloadStats(state): the state's counters by name; for a UDP state also whether GSO and GRO are on now.
Napi::Value OffloadStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (info.Length() >= 1 && IsTagged(info[0], &kTunOffloadTag)) {
    const TunOffload* st = info[0].As<Napi::External<TunOffload>>().Data();
    for (int k = 0; k < kTunStatCount; k++) o.Set(kTunStatNames[k], Napi::Number::New(env, st->stats[k]));
    return o;
  }
  if (info.Length() >= 1 && IsTagged(info[0], &kUdpOffloadTag)) {
    const UdpOffload* st = info[0].As<Napi::External<UdpOffload>>().Data();
    for (int k = 0; k < kUdpStatCount; k++) o.Set(kUdpStatNames[k], Napi::Number::New(env, st->stats[k]));
    o.Set("gso", Napi::Boolean::New(env, st->gso));
    o.Set("gro", Napi::Boolean::New(env, st->gro));
    return o;
  }
  ThrowType(env, "offloadStats", "state must be a handle returned by tunOffloadCreate or udpOffloadCreate");
  return env.Undefined();
}

// offloadSegment(state, frame, batch, max) [test only]: runs the tunReadOffload loop with `frame` (virtio
// header + packet, as one read returns it) as the only frame to read: it is written as one message to a
// SOCK_SEQPACKET socketpair whose other end stands in for the TUN fd, so the same readv layouts (scattered
// once a super-packet's shape is known to the state) are exercised. With frame null it continues a
// super-packet left pending. Count, or -errno (-EINVAL for a frame shorter than the virtio header).
Napi::Value OffloadSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "offloadSegment";
  TunOffload* st = TunOffloadArg(info, 0, fn);
  if (st == nullptr) return env.Undefined();
  const bool has_frame = info.Length() > 1 && info[1].IsTypedArray() &&
                         info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
  if (!has_frame && !(info.Length() > 1 && info[1].IsNull())) {
    ThrowType(env, fn, "frame must be a Uint8Array or null");
    return env.Undefined();
  }
  int err = 0;
  Batch* b = BatchArg(info, 2, fn, &err);
  if (b == nullptr && err == 0) return env.Undefined();
  int64_t max = 0;
  if (!ArgInt(info, 3, fn, "max", 0, 1024, &max)) return env.Undefined();
  if (b == nullptr) return Num(env, -err);
  const uint32_t limit = max < b->capacity ? static_cast<uint32_t>(max) : b->capacity;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return Num(env, -errno);
  int bytes = 1 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  int rc = 0;
  if (has_frame) {
    Napi::Uint8Array frame = info[1].As<Napi::Uint8Array>();
    if (frame.ElementLength() < kVnetHdrLen) {
      rc = -EINVAL;
    } else if (write(sv[1], frame.Data(), frame.ElementLength()) < 0) {
      rc = -errno;
    }
  }
  uint32_t got = 0;
  if (rc == 0) {
    got = TunReadLoop(st, b, sv[0], limit, &err);
    if (got == 0 && err != 0) rc = -err;
  }
  close(sv[0]);
  close(sv[1]);
  return Num(env, rc < 0 ? rc : static_cast<double>(got));
}

// offloadCoalesce(state, batch, count, coalesce, out) [test only]: runs the tunWriteOffload path on
// packets [0, count) but appends each write to `out` as [u32 LE length][virtio header + packet] instead of
// writing it. Statuses as tunWriteOffload. Number of writes, or -ENOSPC when out is too small.
Napi::Value OffloadCoalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "offloadCoalesce";
  TunOffload* st = TunOffloadArg(info, 0, fn);
  if (st == nullptr) return env.Undefined();
  int err = 0;
  Batch* b = BatchArg(info, 1, fn, &err);
  if (b == nullptr && err == 0) return env.Undefined();
  int64_t count = 0, flags = 0;
  if (!ArgInt(info, 2, fn, "count", 0, 1024, &count) || !ArgInt(info, 3, fn, "coalesce", 0, 3, &flags))
    return env.Undefined();
  if (info.Length() < 5 || !info[4].IsTypedArray() ||
      info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(env, fn, "out must be a Uint8Array");
    return env.Undefined();
  }
  if (b == nullptr) return Num(env, -err);
  if (count > b->capacity) return Num(env, -EINVAL);
  Napi::Uint8Array out = info[4].As<Napi::Uint8Array>();
  BufferSink sink{out.Data(), out.ElementLength(), 0, false};
  const uint32_t nw =
      TunExecuteWrites(st, b, static_cast<uint32_t>(count), (flags & 1) != 0, (flags & 2) != 0, BufferWrite, &sink);
  if (sink.overflow) return Num(env, -ENOSPC);
  return Num(env, nw);
}

}  // namespace tartan
