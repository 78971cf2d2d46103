{
  "targets": [
    {
      "target_name": "tartan_native",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/batch.cc",
        "native/batch_io.cc",
        "native/fd.cc",
        "native/gro_coalesce.cc",
        "native/gso_split.cc",
        "native/netlink.cc",
        "native/netns.cc",
        "native/offload_api.cc",
        "native/poll.cc",
        "native/spin_poll.cc",
        "native/tun.cc",
        "native/tun_offload.cc",
        "native/udp.cc",
        "native/udp_gso.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-O2", "-fno-exceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", {"sources!": [
          "native/addon.cc",
          "native/args.cc",
          "native/batch.cc",
          "native/batch_io.cc",
          "native/fd.cc",
          "native/gro_coalesce.cc",
          "native/gso_split.cc",
          "native/netlink.cc",
          "native/netns.cc",
          "native/offload_api.cc",
          "native/poll.cc",
          "native/spin_poll.cc",
          "native/tun.cc",
          "native/tun_offload.cc",
          "native/udp.cc",
          "native/udp_gso.cc"
        ]}]]
    }
  ]
}
