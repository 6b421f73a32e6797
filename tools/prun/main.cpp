// prun — run named processes, alone, as a parallel pool, or as a daemon. See prun(1).
#include "prun_cli.hpp"

int main(int argc, char** argv) { return prockit::prun::main_entry(argc, argv); }
