// poomguard — keep the OOM killer away from what matters. See poomguard(1).
#include "poomguard_cli.hpp"

int main(int argc, char** argv) { return prockit::poomguard::main_entry(argc, argv); }
