# nncConfigVersion.cmake: the version find_package(nnc VERSION) compares.
# Keep PACKAGE_VERSION in step with NNC_VERSION (nnc --version); the test in
# tests/buildsys fails when they differ.
#
# Compatibility: the same major version, at this version or older; before
# 1.0 a minor release may break, so there the minor version must match too.
# A version range (find_package(nnc 0.1...0.3)) is met by any version in it.

set(PACKAGE_VERSION "0.1.0")

string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _nnc_mm "${PACKAGE_VERSION}")
set(_nnc_major "${CMAKE_MATCH_1}")
set(_nnc_minor "${CMAKE_MATCH_2}")

set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(PACKAGE_FIND_VERSION_RANGE)
  if(PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MIN AND
     ((PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE" AND
       PACKAGE_VERSION VERSION_LESS_EQUAL PACKAGE_FIND_VERSION_MAX) OR
      (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE" AND
       PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MAX)))
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION AND
       PACKAGE_FIND_VERSION_MAJOR EQUAL _nnc_major)
  if(NOT _nnc_major EQUAL 0 OR PACKAGE_FIND_VERSION_COUNT LESS 2 OR
     PACKAGE_FIND_VERSION_MINOR EQUAL _nnc_minor)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()

# nnc and libnnrt are built for a 64-bit host: refuse a project configured
# for another pointer size.  (nnc still cross-compiles models: --target.)
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P EQUAL 8)
  set(PACKAGE_VERSION "${PACKAGE_VERSION} (64bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
