// process_args.cpp — passing arguments of several types to a child process.
//
// Process(options, f, args...) stores copies of the arguments when it is constructed and calls
// f(args...) in the child — Python's Process(target=f, args=(...)). Anything copyable will do:
// numbers, strings, containers, your own structs, lambdas with captures. The child works on its
// own copies in its own memory: what it changes, the parent never sees. A callable returning int
// sets the child's exit code.
//
// Output (in this order: each child is joined before the next starts):
//   greet: Hello, Alice! You are 30.
//   sum: 1 + 2 + 3 + 4 = 10
//   point: (3, -4) is 5 from the origin
//   lambda: 3 x 'ab' = ababab
//   copy: the child sees counter=1 and sets it to 100
//   main: counter is still 2 in the parent
//   main: exit codes: greet=0 sum=10 point=0 lambda=0 copy=0
#include <prockit/process/process.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

void greet(const std::string& who, int age) { std::printf("greet: Hello, %s! You are %d.\n", who.c_str(), age); }

// Returns the sum: it becomes the exit code.
int sum(const std::vector<int>& values) {
    int total = 0;
    std::string terms;
    for (int v : values) {
        total += v;
        terms += (terms.empty() ? "" : " + ") + std::to_string(v);
    }
    std::printf("sum: %s = %d\n", terms.c_str(), total);
    return total;
}

struct Point {
    double x;
    double y;
};
void distance(Point p) { std::printf("point: (%g, %g) is %g from the origin\n", p.x, p.y, std::hypot(p.x, p.y)); }

void change_copy(int counter) {
    std::printf("copy: the child sees counter=%d and sets it to 100\n", counter);
    counter = 100;  // the child's own copy
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::map<std::string, int> codes;
    auto run = [&](prockit::Process& p) {
        p.start();
        p.join();
        codes[p.name()] = *p.exitcode();
    };

    // A string and an int.
    prockit::Process g({.name = "greet"}, greet, std::string("Alice"), 30);
    run(g);

    // A container; the return value is the exit code.
    prockit::Process s({.name = "sum"}, sum, std::vector<int>{1, 2, 3, 4});
    run(s);

    // A struct of our own.
    prockit::Process d({.name = "point"}, distance, Point{3, -4});
    run(d);

    // A lambda with a capture, plus an argument.
    std::string piece = "ab";
    prockit::Process l(
        {.name = "lambda"},
        [piece](int times) {
            std::string out;
            for (int i = 0; i < times; ++i) out += piece;
            std::printf("lambda: %d x '%s' = %s\n", times, piece.c_str(), out.c_str());
        },
        3);
    run(l);

    // Arguments are copied when the Process is constructed: a later change in the parent is not
    // seen by the child, and the child's change is not seen by the parent.
    int counter = 1;
    prockit::Process c({.name = "copy"}, change_copy, counter);
    counter = 2;
    run(c);
    std::printf("main: counter is still %d in the parent\n", counter);

    std::printf("main: exit codes: greet=%d sum=%d point=%d lambda=%d copy=%d\n", codes["greet"], codes["sum"],
                codes["point"], codes["lambda"], codes["copy"]);
    return 0;
}
