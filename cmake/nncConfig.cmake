# nncConfig.cmake: the CMake package of nnc, found by find_package(nnc).
#
# Gives
#   nnc::nnc          the compiler (an imported executable)
#   nnc::nnrt         the runtime, static; links -lm and zlib
#   nnc::nnrt_shared  the runtime, shared (libnnrt.so)
#   NNC_EXECUTABLE    the path of the compiler
#   nnc_add_model(TARGET SOURCE [DEFINES NAME=VALUE ...] [OPTIONS ...])
#
# Every path is computed from where this file is, so an installed tree can
# be moved.  Two layouts are recognised:
#   installed    PREFIX/lib/cmake/nnc/nncConfig.cmake, PREFIX/bin/nnc,
#                PREFIX/include/nnrt.h, PREFIX/lib/libnnrt.{a,so}
#   source tree  REPO/cmake/nncConfig.cmake after `make` in REPO: REPO/build/nnc,
#                REPO/runtime/nnrt.h, REPO/build/libnnrt.{a,so}
#                (cmake -Dnnc_DIR=REPO/cmake)
#
# nnc_add_model runs nnc with -MD, and hands the dependency file to
# add_custom_command(DEPFILE), so the model is recompiled when it or any file
# it imports changes (CMake 3.20 or later: DEPFILE with Makefile generators).
# docs/build-systems.md is the guide.

if(CMAKE_VERSION VERSION_LESS 3.20)
  set(nnc_FOUND FALSE)
  set(nnc_NOT_FOUND_MESSAGE "nnc needs CMake 3.20 or later (add_custom_command DEPFILE)")
  return()
endif()

# find_package gives this file its own policy scope; the policies set here are
# recorded by nnc_add_model when it is defined and used whenever it is called.
# CMP0116: Ninja rewrites the paths of a DEPFILE relative to the build tree.
cmake_policy(VERSION 3.20...3.25)

get_filename_component(_nnc_here "${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
get_filename_component(_nnc_prefix "${_nnc_here}/../../.." ABSOLUTE)
get_filename_component(_nnc_repo "${_nnc_here}/.." ABSOLUTE)
if(EXISTS "${_nnc_prefix}/bin/nnc" AND EXISTS "${_nnc_prefix}/include/nnrt.h")
  set(_nnc_exe "${_nnc_prefix}/bin/nnc")
  set(_nnc_include "${_nnc_prefix}/include")
  set(_nnc_libdir "${_nnc_prefix}/lib")
elseif(EXISTS "${_nnc_repo}/build/nnc" AND EXISTS "${_nnc_repo}/runtime/nnrt.h")
  set(_nnc_exe "${_nnc_repo}/build/nnc")
  set(_nnc_include "${_nnc_repo}/runtime")
  set(_nnc_libdir "${_nnc_repo}/build")
else()
  set(nnc_FOUND FALSE)
  set(nnc_NOT_FOUND_MESSAGE "no nnc beside ${CMAKE_CURRENT_LIST_FILE}: expected "
      "${_nnc_prefix}/bin/nnc (an installed nnc) or ${_nnc_repo}/build/nnc (run make first)")
  return()
endif()
foreach(_nnc_f "${_nnc_libdir}/libnnrt.a" "${_nnc_libdir}/libnnrt.so")
  if(NOT EXISTS "${_nnc_f}")
    set(nnc_FOUND FALSE)
    set(nnc_NOT_FOUND_MESSAGE "nnc: ${_nnc_f} is missing")
    return()
  endif()
endforeach()

set(NNC_EXECUTABLE "${_nnc_exe}")

# A second find_package(nnc) in the same project, or in a subproject, reuses
# the targets (imported targets are visible in the directory that made them
# and below).
if(NOT TARGET nnc::nnc)
  add_executable(nnc::nnc IMPORTED)
  set_target_properties(nnc::nnc PROPERTIES IMPORTED_LOCATION "${_nnc_exe}")
endif()

if(NOT TARGET nnc::nnrt)
  # The static runtime needs zlib (gzipped IDX files), libm and threads (its
  # thread pool); the imported ZLIB::ZLIB and Threads::Threads when CMake
  # finds them, otherwise -lz and -lpthread.
  macro(_nnc_library var package target fallback)
    find_package(${package} QUIET)
    if(TARGET ${target})
      set(${var} ${target})
    else()
      set(${var} ${fallback})
    endif()
  endmacro()
  _nnc_library(_nnc_zlib ZLIB ZLIB::ZLIB z)
  _nnc_library(_nnc_threads Threads Threads::Threads pthread)
  add_library(nnc::nnrt STATIC IMPORTED)
  set_target_properties(nnc::nnrt PROPERTIES
    IMPORTED_LOCATION "${_nnc_libdir}/libnnrt.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES C
    INTERFACE_INCLUDE_DIRECTORIES "${_nnc_include}"
    INTERFACE_LINK_LIBRARIES "${_nnc_zlib};m;${_nnc_threads}")
endif()

if(NOT TARGET nnc::nnrt_shared)
  # For models linked into shared libraries: libnnrt.a is built without
  # -fPIC (it links into a shared object only where the compiler makes
  # position-independent code by default), and one libnnrt.so can serve
  # several libraries.  The objects nnc writes are always PIC.
  add_library(nnc::nnrt_shared SHARED IMPORTED)
  set_target_properties(nnc::nnrt_shared PROPERTIES
    IMPORTED_LOCATION "${_nnc_libdir}/libnnrt.so"
    IMPORTED_SONAME "libnnrt.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_nnc_include}"
    INTERFACE_LINK_LIBRARIES "m")
endif()

# nnc_add_model(TARGET SOURCE [DEFINES NAME=VALUE ...] [OPTIONS ...])
#
# Compiles SOURCE (relative to the current source directory) with nnc into
# CMAKE_CURRENT_BINARY_DIR/nnc/TARGET/STEM.o and STEM.h, STEM being the
# source's name without .nn (or NAME with --prefix=NAME among the OPTIONS, so
# that two builds of one model, linked into one program, have headers of
# their own names), and makes TARGET a static library holding the
# object whose users get that directory on their include path (so they write
# #include "STEM.h") and the runtime.  DEFINES become -D NAME=VALUE; OPTIONS
# are passed to nnc as they are (-O3, --cpu=native, --target=..., -I DIR,
# --dtype=f64); nnc_add_model chooses the outputs itself, so -o, -H, -S,
# --emit, -MD and -MF are refused.  The runtime is nnc::nnrt, or
# nnc::nnrt_shared when NNC_RUNTIME_SHARED is true where nnc_add_model is
# called.  The model is recompiled when SOURCE, a file it imports, or nnc
# itself changes.
function(nnc_add_model target source)
  cmake_parse_arguments(PARSE_ARGV 2 _arg "" "" "DEFINES;OPTIONS")
  if(_arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nnc_add_model(${target}): unexpected arguments "
            "'${_arg_UNPARSED_ARGUMENTS}' (expected DEFINES NAME=VALUE ... and OPTIONS ...)")
  endif()
  get_filename_component(src "${source}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${src}")
    message(FATAL_ERROR "nnc_add_model(${target}): no model file ${src}")
  endif()
  get_filename_component(stem "${src}" NAME_WLE)

  set(args)
  foreach(def IN LISTS _arg_DEFINES)
    if(NOT def MATCHES "^[A-Za-z_][A-Za-z0-9_]*=.")
      message(FATAL_ERROR "nnc_add_model(${target}): DEFINES takes NAME=VALUE, got '${def}'")
    endif()
    list(APPEND args -D "${def}")
  endforeach()
  foreach(opt IN LISTS _arg_OPTIONS)
    if(opt MATCHES "^(-o|-H|-S|-MD|-MF|--emit=.*)$")
      message(FATAL_ERROR "nnc_add_model(${target}): nnc_add_model chooses the outputs; "
              "remove '${opt}' from OPTIONS")
    endif()
    if(opt MATCHES "^--prefix=(.+)$")
      set(stem "${CMAKE_MATCH_1}")
    endif()
  endforeach()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/nnc/${target}")
  set(obj "${dir}/${stem}.o")
  set(hdr "${dir}/${stem}.h")
  set(dep "${dir}/${stem}.d")
  file(MAKE_DIRECTORY "${dir}")
  # Absolute paths everywhere, so the depfile nnc writes names the outputs
  # exactly as the build files do, whatever the generator.
  add_custom_command(
    OUTPUT "${obj}" "${hdr}"
    COMMAND nnc::nnc ${args} ${_arg_OPTIONS} -MD -MF "${dep}" -o "${obj}" -H "${hdr}" "${src}"
    DEPENDS "${src}" "$<TARGET_FILE:nnc::nnc>"
    DEPFILE "${dep}"
    COMMENT "Compiling nnc model ${source} for ${target}"
    VERBATIM)

  add_library(${target} STATIC "${obj}" "${hdr}")
  set_source_files_properties("${obj}" PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
  set_source_files_properties("${hdr}" PROPERTIES HEADER_FILE_ONLY TRUE GENERATED TRUE)
  # The library has no source to compile, so CMake cannot guess how to
  # archive it: say C, or C++ in a project without C.
  get_property(langs GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("C" IN_LIST langs OR NOT "CXX" IN_LIST langs)
    set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C)
  else()
    set_target_properties(${target} PROPERTIES LINKER_LANGUAGE CXX)
  endif()
  target_include_directories(${target} PUBLIC "${dir}")
  if(NNC_RUNTIME_SHARED)
    target_link_libraries(${target} PUBLIC nnc::nnrt_shared)
  else()
    target_link_libraries(${target} PUBLIC nnc::nnrt)
  endif()
endfunction()
