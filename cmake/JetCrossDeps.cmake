# Build-machine dependencies for a cross build (CMAKE_CROSSCOMPILING, e.g. the mingw-w64 win-x64
# build): the find_package() of a native build would find Linux libraries, or hand the target
# compiler the build machine's /usr/include. Instead:
#  - nlohmann_json (header-only): its nlohmann/ folder is copied into the build folder and used
#    from there, so no host system headers reach the target compiler;
#  - GoogleTest (JET_BUILD_TESTS): built from source with the target compiler, from
#    JET_GTEST_SOURCE_DIR (Debian's googletest package: /usr/src/googletest), as GTest::gtest
#    and GTest::gtest_main.
find_path(JET_NLOHMANN_JSON_HOST_INCLUDE nlohmann/json.hpp PATHS /usr/include /usr/local/include
  NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
if(NOT JET_NLOHMANN_JSON_HOST_INCLUDE)
  message(FATAL_ERROR "nlohmann/json.hpp not found on the build machine (Debian: nlohmann-json3-dev)")
endif()
set(_jet_cross_include ${CMAKE_BINARY_DIR}/cross-include)
file(COPY ${JET_NLOHMANN_JSON_HOST_INCLUDE}/nlohmann DESTINATION ${_jet_cross_include})
add_library(jet_nlohmann_json INTERFACE)
target_include_directories(jet_nlohmann_json SYSTEM INTERFACE ${_jet_cross_include})
add_library(nlohmann_json::nlohmann_json ALIAS jet_nlohmann_json)

if(JET_BUILD_TESTS)
  set(JET_GTEST_SOURCE_DIR /usr/src/googletest CACHE PATH
    "GoogleTest sources built for the target of a cross build")
  if(NOT EXISTS ${JET_GTEST_SOURCE_DIR}/CMakeLists.txt)
    message(FATAL_ERROR "no GoogleTest sources in ${JET_GTEST_SOURCE_DIR} (Debian: googletest)")
  endif()
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(${JET_GTEST_SOURCE_DIR} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
  if(NOT TARGET GTest::gtest)  # GoogleTest >= 1.11 defines these aliases itself
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
endif()
