#include <prockit/proc/events.hpp>

#include "tools/paffinity/run_tool.hpp"

#include <gtest/gtest.h>

#include <poll.h>

using namespace prockit;
using namespace prockit::proc;

TEST(ProcEvents, SeesForkAndExit) {
    auto ev = ProcEvents::open();
    if (!ev) GTEST_SKIP() << "proc connector unavailable: " << ev.error().message();
    pid_t child;
    {
        paff_test::Child c({"/bin/true"});
        child = c.pid();
        c.wait();
    }
    bool fork_seen = false, exit_seen = false;
    bool done = paff_test::wait_until([&] {
        pollfd p{ev->fd(), POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            auto events = ev->read();
            if (!events) return true;
            for (const ProcEvent& e : *events) {
                if (e.kind == ProcEvent::Kind::fork && e.tgid == child && e.parent_tgid == getpid()) fork_seen = true;
                if (e.kind == ProcEvent::Kind::exit && e.pid == child) exit_seen = true;
            }
        }
        return fork_seen && exit_seen;
    });
    EXPECT_TRUE(done);
    EXPECT_TRUE(fork_seen);
    EXPECT_TRUE(exit_seen);
}
