// tools/pjobs/holder.hpp — a job's holder: the small process that owns one job (see holder.cpp).
#pragma once

#include <string>

namespace prockit::pjobs {

/// `pjobs __holder ID` (the JSON `spec` read from stdin): runs the job it describes, reporting its PID on stdout
/// (then closing it), and serves the job's socket until the job ends. Returns the exit status.
int holder_main(const std::string& spec);

}  // namespace prockit::pjobs
