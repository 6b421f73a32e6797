// download_upload.cpp — two tasks in two processes at once instead of one after the other.
//
// A "download" and an "upload" (each stands for a second of I/O; here 200 ms) run in two child
// processes started one after the other without waiting: the two run at the same time, so the
// whole program takes about one task's time, not two. main prints its last line at once and
// returns; the children are not daemons, so the program still waits for them to finish.
//
// Output (in any order, except that each child's "start" comes before its "done"):
//   download: start
//   upload: start
//   --main finished--
//   download: done
//   upload: done
#include <prockit/process/process.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

void download() {
    std::printf("download: start\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::printf("download: done\n");
}

void upload() {
    std::printf("upload: start\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::printf("upload: done\n");
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whole lines, so the processes' lines never mix
    prockit::Process download_process({.name = "download"}, download);
    prockit::Process upload_process({.name = "upload"}, upload);
    download_process.start();
    upload_process.start();
    std::printf("--main finished--\n");
    return 0;  // the destructors (and prockit's exit hook) wait for both children
}
