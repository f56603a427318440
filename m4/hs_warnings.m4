# HS_CHECK_WARNINGS: probe each warning flag alone and keep those the compiler accepts.
AC_DEFUN([HS_CHECK_WARNINGS], [
  WARN_CFLAGS=
  hs_save_CFLAGS="$CFLAGS"
  for hs_flag in -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
                 -Wformat=2 -Wpointer-arith -Wwrite-strings -Wcast-align \
                 -Wmissing-declarations -Wnested-externs -Wundef -Wvla \
                 -Wimplicit-fallthrough -Wno-format-nonliteral; do
    AC_MSG_CHECKING([whether $CC accepts $hs_flag])
    CFLAGS="$hs_save_CFLAGS -Werror $hs_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); WARN_CFLAGS="$WARN_CFLAGS $hs_flag"],
      [AC_MSG_RESULT([no])])
  done
  CFLAGS="$hs_save_CFLAGS"
])
