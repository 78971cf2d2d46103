// A registered PacketBatch: references that keep the slab and the typed arrays alive, their raw pointers,
// and scratch message headers for recvmmsg/sendmmsg allocated once at registration (no per-packet or
// per-call allocation).
#pragma once

#include <arpa/inet.h>
#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tartan {

struct Batch {
  // Keep the memory alive while the handle lives.
  Napi::Reference<Napi::ArrayBuffer> slab_ref;
  Napi::Reference<Napi::TypedArray> offsets_ref, lengths_ref, addrs_ref, ports_ref, status_ref;

  // Geometry fixed at registration: capacity = offsets.length; slot i spans
  // [i * slot_size, (i + 1) * slot_size) and receives at + headroom.
  uint32_t capacity = 0;
  uint32_t slot_size = 0;
  uint32_t headroom = 0;

  // Raw views, re-read by Refresh() before every use.
  uint8_t* slab = nullptr;
  size_t slab_len = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint32_t* addrs = nullptr;
  uint16_t* ports = nullptr;
  int32_t* status = nullptr;

  // Scratch for recvmmsg/sendmmsg, one entry per slot.
  std::unique_ptr<struct mmsghdr[]> msgs;
  std::unique_ptr<struct iovec[]> iovs;
  std::unique_ptr<struct sockaddr_in[]> names;
};

// Resolves argument i of a batch I/O call to its Batch with fresh pointers. Returns nullptr after throwing
// a TypeError when the value is not a handle from batchRegister; returns nullptr with *err = EINVAL when
// the memory was detached or shrank below the registered geometry (the handle is then unusable).
Batch* BatchArg(const Napi::CallbackInfo& info, size_t i, const char* fn, int* err);

// Points a send msghdr at destination addr:port (host byte order), written into *sa, and at iovlen iovecs;
// no control data (callers that need a cmsg set it afterwards).
inline void PrepareSendMsg(struct msghdr* h, struct sockaddr_in* sa, uint32_t addr, uint16_t port,
                           struct iovec* iov, size_t iovlen) {
  *sa = sockaddr_in{};
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  sa->sin_addr.s_addr = htonl(addr);
  h->msg_name = sa;
  h->msg_namelen = sizeof *sa;
  h->msg_iov = iov;
  h->msg_iovlen = iovlen;
  h->msg_control = nullptr;
  h->msg_controllen = 0;
  h->msg_flags = 0;
}

// The IPv4 sender recvmmsg wrote for a message (host byte order), or 0 and 0 when its name is not AF_INET.
inline void SenderOf(const struct msghdr& h, const struct sockaddr_in& sa, uint32_t* addr, uint16_t* port) {
  const bool inet = h.msg_namelen >= sizeof(struct sockaddr_in) && sa.sin_family == AF_INET;
  *addr = inet ? ntohl(sa.sin_addr.s_addr) : 0;
  *port = inet ? ntohs(sa.sin_port) : 0;
}

}  // namespace tartan
