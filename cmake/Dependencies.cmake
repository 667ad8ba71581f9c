# Every dependency is a Debian 12 package (tools/install-deps.sh installs them),
# found with pkg-config, or find_library where Debian ships no .pc file.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(JSONC REQUIRED IMPORTED_TARGET json-c)
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)

# libsnappy-dev ships no pkg-config file.
find_path(SNAPPY_INCLUDE_DIR snappy-c.h REQUIRED)
find_library(SNAPPY_LIBRARY snappy REQUIRED)

find_program(PROTOC_C protoc-c REQUIRED)

add_library(pipit_deps INTERFACE)
target_include_directories(pipit_deps INTERFACE ${SNAPPY_INCLUDE_DIR})
target_link_libraries(pipit_deps INTERFACE
  PkgConfig::PROTOBUF_C PkgConfig::NGHTTP2 PkgConfig::CURL PkgConfig::ZSTD
  PkgConfig::ZLIB PkgConfig::SQLITE3 PkgConfig::YAML PkgConfig::LIBUV
  PkgConfig::MHD PkgConfig::JSONC PkgConfig::GNUTLS ${SNAPPY_LIBRARY}
  Threads::Threads m)

if(PIPIT_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
