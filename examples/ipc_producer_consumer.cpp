// Producer/consumer over a Queue: one process produces numbers, another consumes them.
//   $ ipc_producer_consumer
//   consumer: got 100 items, sum 4950
//   producer exited with 0, consumer exited with 0
#include <prockit/ipc/queue.hpp>
#include <prockit/process/process.hpp>

#include <cstdio>

using namespace std::chrono_literals;

int main() {
    prockit::Queue q(10);  // at most 10 items waiting: the producer blocks when it is ahead
    prockit::Process producer({.name = "producer"}, [&] {
        for (int i = 0; i < 100; ++i) q.put(i, 30s);
        q.put(-1, 30s);  // end of stream
    });
    prockit::Process consumer({.name = "consumer"}, [&] {
        int n = 0;
        long sum = 0;
        for (int v; (v = q.get<int>(30s)) >= 0; ++n) sum += v;
        std::printf("consumer: got %d items, sum %ld\n", n, sum);
    });
    producer.start();
    consumer.start();
    producer.join();
    consumer.join();
    std::printf("producer exited with %d, consumer exited with %d\n", *producer.exitcode(), *consumer.exitcode());
    return *producer.exitcode() || *consumer.exitcode();
}
