// Every function the addon exports, one per entry of NativeAddon in src/io/native.ts; addon.cc registers
// them. Each returns a non-negative result or a negative errno and throws only a TypeError for arguments
// of the wrong type or shape.
#pragma once

#include <napi.h>

namespace tartan {

// tun.cc
Napi::Value TunOpen(const Napi::CallbackInfo& info);
Napi::Value TunName(const Napi::CallbackInfo& info);

// netlink.cc
Napi::Value LinkIndex(const Napi::CallbackInfo& info);
Napi::Value LinkSetMtu(const Napi::CallbackInfo& info);
Napi::Value LinkSetUp(const Napi::CallbackInfo& info);
Napi::Value LinkDelete(const Napi::CallbackInfo& info);
Napi::Value AddrAdd(const Napi::CallbackInfo& info);
Napi::Value RouteAdd(const Napi::CallbackInfo& info);
Napi::Value RouteDel(const Napi::CallbackInfo& info);

// udp.cc
Napi::Value UdpOpen(const Napi::CallbackInfo& info);
Napi::Value UdpLocalPort(const Napi::CallbackInfo& info);

// batch.cc
Napi::Value BatchRegister(const Napi::CallbackInfo& info);

// batch_io.cc
Napi::Value TunRead(const Napi::CallbackInfo& info);
Napi::Value TunWrite(const Napi::CallbackInfo& info);
Napi::Value UdpRecv(const Napi::CallbackInfo& info);
Napi::Value UdpSend(const Napi::CallbackInfo& info);

// poll.cc
Napi::Value PollStart(const Napi::CallbackInfo& info);
Napi::Value PollUpdate(const Napi::CallbackInfo& info);
Napi::Value PollClose(const Napi::CallbackInfo& info);

// netns.cc
Napi::Value NetnsSwitch(const Napi::CallbackInfo& info);
Napi::Value NetnsRestore(const Napi::CallbackInfo& info);

// tun_offload.cc
Napi::Value TunSetOffload(const Napi::CallbackInfo& info);
Napi::Value TunReadOffload(const Napi::CallbackInfo& info);
Napi::Value TunWriteOffload(const Napi::CallbackInfo& info);

// udp_gso.cc
Napi::Value UdpOffloadEnable(const Napi::CallbackInfo& info);
Napi::Value UdpSendOffload(const Napi::CallbackInfo& info);
Napi::Value UdpRecvOffload(const Napi::CallbackInfo& info);

// offload_api.cc
Napi::Value TunOffloadCreate(const Napi::CallbackInfo& info);
Napi::Value UdpOffloadCreate(const Napi::CallbackInfo& info);
Napi::Value OffloadStats(const Napi::CallbackInfo& info);
Napi::Value OffloadSegment(const Napi::CallbackInfo& info);
Napi::Value OffloadCoalesce(const Napi::CallbackInfo& info);

// spin_poll.cc
Napi::Value SpinPoll(const Napi::CallbackInfo& info);

// fd.cc
Napi::Value Close(const Napi::CallbackInfo& info);

}  // namespace tartan
