// Registration only: binds each NativeAddon function (src/io/native.ts) to its implementation.
#include <napi.h>

#include "functions.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry kEntries[] = {
      {"tunOpen", tartan::TunOpen},       {"tunName", tartan::TunName},
      {"linkIndex", tartan::LinkIndex},   {"linkSetMtu", tartan::LinkSetMtu},
      {"linkSetUp", tartan::LinkSetUp},   {"linkDelete", tartan::LinkDelete},
      {"addrAdd", tartan::AddrAdd},       {"routeAdd", tartan::RouteAdd},
      {"routeDel", tartan::RouteDel},     {"udpOpen", tartan::UdpOpen},
      {"udpLocalPort", tartan::UdpLocalPort},
      {"batchRegister", tartan::BatchRegister},
      {"tunRead", tartan::TunRead},       {"tunWrite", tartan::TunWrite},
      {"udpRecv", tartan::UdpRecv},       {"udpSend", tartan::UdpSend},
      {"pollStart", tartan::PollStart},   {"pollUpdate", tartan::PollUpdate},
      {"pollClose", tartan::PollClose},   {"netnsSwitch", tartan::NetnsSwitch},
      {"netnsRestore", tartan::NetnsRestore},
      {"close", tartan::Close},
      {"tunSetOffload", tartan::TunSetOffload},
      {"tunReadOffload", tartan::TunReadOffload},
      {"tunWriteOffload", tartan::TunWriteOffload},
      {"udpOffloadEnable", tartan::UdpOffloadEnable},
      {"udpSendOffload", tartan::UdpSendOffload},
      {"udpRecvOffload", tartan::UdpRecvOffload},
      {"tunOffloadCreate", tartan::TunOffloadCreate},
      {"udpOffloadCreate", tartan::UdpOffloadCreate},
      {"offloadStats", tartan::OffloadStats},
      {"offloadSegment", tartan::OffloadSegment},
      {"offloadCoalesce", tartan::OffloadCoalesce},
      {"spinPoll", tartan::SpinPoll},
  };
  for (const Entry& e : kEntries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(tartan_native, Init)
