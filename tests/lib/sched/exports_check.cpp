// A shared object made of the whole static libprockit, linked with lib/prockit.map, so that
// exports_test.sh can check the exports in a build whose libprockit is static.
