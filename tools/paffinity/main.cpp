// paffinity — CPU affinity for processes and threads. See paffinity(1).
#include "paffinity_cli.hpp"

int main(int argc, char** argv) { return prockit::paffinity::main_entry(argc, argv); }
