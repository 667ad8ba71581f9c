# protoc-c generates the C for proto/ at build time; nothing generated is committed.
set(PIPIT_PROTO_DIR ${CMAKE_SOURCE_DIR}/proto)
set(PIPIT_PROTO_OUT ${CMAKE_BINARY_DIR}/proto)
file(GLOB_RECURSE PIPIT_PROTO_FILES CONFIGURE_DEPENDS ${PIPIT_PROTO_DIR}/*.proto)

set(PIPIT_PROTO_SOURCES "")
foreach(proto ${PIPIT_PROTO_FILES})
  file(RELATIVE_PATH rel ${PIPIT_PROTO_DIR} ${proto})
  string(REGEX REPLACE "\\.proto$" "" base ${rel})
  set(out_c ${PIPIT_PROTO_OUT}/${base}.pb-c.c)
  set(out_h ${PIPIT_PROTO_OUT}/${base}.pb-c.h)
  add_custom_command(
    OUTPUT ${out_c} ${out_h}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PIPIT_PROTO_OUT}
    COMMAND ${PROTOC_C} --c_out=${PIPIT_PROTO_OUT} -I${PIPIT_PROTO_DIR} ${rel}
    WORKING_DIRECTORY ${PIPIT_PROTO_DIR}
    DEPENDS ${proto}
    COMMENT "protoc-c ${rel}"
    VERBATIM)
  list(APPEND PIPIT_PROTO_SOURCES ${out_c})
endforeach()

# Generated code is compiled without -Werror: its warnings are not ours to fix.
add_library(pipit_proto STATIC ${PIPIT_PROTO_SOURCES})
target_include_directories(pipit_proto PUBLIC ${PIPIT_PROTO_OUT})
target_link_libraries(pipit_proto PUBLIC PkgConfig::PROTOBUF_C)
