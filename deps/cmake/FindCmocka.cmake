# libcmocka-dev ships a pkg-config file; wrap it as Cmocka::cmocka.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
if(NOT TARGET Cmocka::cmocka)
  add_library(Cmocka::cmocka ALIAS PkgConfig::CMOCKA)
endif()
set(Cmocka_FOUND TRUE)
