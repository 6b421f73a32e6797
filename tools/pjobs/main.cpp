// pjobs — shell job control over jobs that outlive the shell. See pjobs(1).
#include "pjobs_cli.hpp"

int main(int argc, char** argv) { return prockit::pjobs::main_entry(argc, argv); }
