// process_subclass.cpp — subclassing Process and overriding run().
//
// Instead of a callable, a class derived from prockit::Process carries its own data and puts
// its work in run(), which the child calls after start(). How run() ends sets the exit code:
// returning gives 0, `throw prockit::ProcessExit{n}` gives n, and any other exception gives 1
// (with "Process <name>: <type>: <what()>" on stderr).
//
// Output (in this order; the children run one after the other):
//   countdown: 3
//   countdown: 2
//   countdown: 1
//   countdown: liftoff
//   main: countdown exitcode=0
//   checker: 7 is odd, leaving with code 7
//   main: checker exitcode=7
//   main: broken exitcode=1
// and on stderr:
//   Process broken: std::runtime_error: the widget is missing
#include <prockit/process/process.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

class Countdown : public prockit::Process {
public:
    Countdown(std::string name, int from) : Process({.name = std::move(name)}), from_(from) {}

    void run() override {
        const std::string me = prockit::current_process().name;
        for (int i = from_; i > 0; --i) std::printf("%s: %d\n", me.c_str(), i);
        std::printf("%s: liftoff\n", me.c_str());
    }

private:
    int from_;
};

// Ends with an exit code of its choosing.
class OddChecker : public prockit::Process {
public:
    explicit OddChecker(int n) : Process({.name = "checker"}), n_(n) {}

    void run() override {
        if (n_ % 2 != 0) {
            std::printf("checker: %d is odd, leaving with code %d\n", n_, n_);
            throw prockit::ProcessExit{n_};
        }
        std::printf("checker: %d is even\n", n_);
    }

private:
    int n_;
};

// Fails: the exception's text goes to stderr and the exit code is 1.
class Broken : public prockit::Process {
public:
    Broken() : Process({.name = "broken"}) {}
    void run() override { throw std::runtime_error("the widget is missing"); }
};

void run_and_report(prockit::Process& p) {
    p.start();
    p.join();
    std::printf("main: %s exitcode=%d\n", p.name().c_str(), *p.exitcode());
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Countdown countdown("countdown", 3);
    run_and_report(countdown);
    OddChecker checker(7);
    run_and_report(checker);
    Broken broken;
    run_and_report(broken);
    return 0;
}
