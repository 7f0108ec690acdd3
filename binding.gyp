{
  "targets": [
    {
      "target_name": "lwm2m_fota_udp",
      "sources": ["native/udp.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", { "type": "none", "sources!": ["native/udp.c"] }]]
    }
  ]
}
