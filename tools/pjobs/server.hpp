// tools/pjobs/server.hpp — the per-user pjobs server: the job table (see server.cpp).
#pragma once

#include "proto.hpp"

#include <functional>

namespace prockit::pjobs {

/// Runs the server on `paths` until `pjobs server stop`. `ready(code, message)` is called once,
/// when the socket listens (code 0) or when the server cannot start (code 1, and it returns 1).
int server_main(const Paths& paths, const std::function<void(int, const std::string&)>& ready);

}  // namespace prockit::pjobs
