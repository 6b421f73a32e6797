// examples/job_shell.cpp — a small job-control shell built on prockit's jobs/ library.
//
//   $ sleep 100
//   ^Z
//   [1]+  Stopped                 sleep 100
//   $ bg
//   [1]+ sleep 100 &
//   $ ls | wc -l &
//   [2] 4243
//   $ jobs
//   [1]-  Running                 sleep 100 &
//   [2]+  Done                    ls | wc -l
//   $ kill %1
//
// Commands and pipelines (`a | b`, a trailing `&` for the background), words split at blanks,
// 'single' and "double" quotes kept together. Built-ins: jobs, fg [SPEC], bg [SPEC],
// kill [-SIGNAL] SPEC..., exit [CODE]. Job specs: %N, %+, %%, %-, %name, %?text, or a PID.
#include <prockit/jobs/job_control.hpp>
#include <prockit/sys/signals.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace prockit;

namespace {

/// Splits a line into words; `|` and `&` are words of their own.
std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> words;
    std::string w;
    bool in_word = false;
    char quote = 0;
    for (char c : line) {
        if (quote) {
            if (c == quote) quote = 0;
            else w += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '|' || c == '&') {
            if (in_word) words.push_back(w);
            w.clear();
            in_word = false;
            if (c == '|' || c == '&') words.emplace_back(1, c);
        } else {
            w += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(w);
    return words;
}

std::string describe(const Job& job) {
    if (job.state() != JobState::done) return to_string(job.state());
    const ExitStatus& st = *job.status();
    if (st.success()) return "Done";
    if (st.is_exited()) return "Exit " + std::to_string(*st.code());
    return "Killed SIG" + signal_name(*st.signal());
}

char marker(JobTable& jobs, const Job& job) {
    CurrentJobs c = jobs.current();
    if (c.current == job.number()) return '+';
    if (c.previous == job.number()) return '-';
    return ' ';
}

void print_job(JobTable& jobs, const Job& job) {
    std::string state = describe(job);
    state.resize(std::max<std::size_t>(state.size(), 22), ' ');
    std::cout << "[" << job.number() << "]" << marker(jobs, job) << "  " << state << "  " << job.command()
              << (job.state() == JobState::running ? " &" : "") << "\n";
}

/// Before each prompt: tell what background jobs did, and forget the finished ones.
void notify(JobTable& jobs) {
    (void)jobs.update();
    for (Job* j : jobs.jobs()) {
        if (j->notified || j->state() == JobState::running) continue;
        print_job(jobs, *j);
        j->notified = true;
        if (j->state() == JobState::done) jobs.remove(j->number());
    }
}

/// After a foreground job stopped or ended: what a shell prints, and the status for $?.
int after_foreground(JobTable& jobs, Job& job) {
    if (job.state() == JobState::stopped) {
        std::cout << "\n";
        print_job(jobs, job);
        job.notified = true;
        return job.status()->shell_code();
    }
    int code = job.status()->shell_code();
    if (job.status()->is_killed() && job.status()->signal() != SIGINT) std::cout << describe(job) << "\n";
    else if (job.status()->is_killed()) std::cout << "\n";
    jobs.remove(job.number());
    return code;
}

void complain(const std::string& what) { std::cerr << "job_shell: " << what << "\n"; }

Job* job_named(JobTable& jobs, const std::vector<std::string>& words) {
    auto j = jobs.find(words.size() > 1 ? words[1] : "%+");
    if (!j) complain(j.error().message());
    return j ? *j : nullptr;
}

}  // namespace

int main() {
    auto term = Terminal::open(STDIN_FILENO);  // waits until we are in the foreground
    if (!term) {
        complain(term.error().message());
        return 1;
    }
    // A shell ignores the terminal's job-control signals itself; its jobs get the defaults back.
    for (int sig : {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU}) std::signal(sig, SIG_IGN);
    JobTable jobs(&*term);
    int last = 0;
    bool warned = false;
    std::string line;
    for (;;) {
        notify(jobs);
        std::cout << "$ " << std::flush;
        if (!std::getline(std::cin, line)) break;
        std::vector<std::string> words = split(line);
        if (words.empty()) continue;
        const std::string& cmd = words[0];

        if (cmd == "exit") {
            bool stopped = false;
            for (Job* j : jobs.jobs()) stopped |= j->state() == JobState::stopped;
            if (stopped && !warned) {  // as bash: warn once, exit on the second try
                complain("there are stopped jobs");
                warned = true;
                continue;
            }
            return words.size() > 1 ? std::atoi(words[1].c_str()) : last;
        }
        warned = false;
        if (cmd == "jobs") {
            (void)jobs.update();
            for (Job* j : jobs.jobs()) {
                print_job(jobs, *j);
                j->notified = true;
                if (j->state() == JobState::done) jobs.remove(j->number());
            }
        } else if (cmd == "fg") {
            if (Job* j = job_named(jobs, words)) {
                std::cout << j->command() << "\n" << std::flush;
                auto st = jobs.continue_foreground(*j);
                if (st) last = after_foreground(jobs, *j);
                else if (j->state() != JobState::done) complain(st.error().message());
                // (a job that ended meanwhile is reported before the next prompt)
            }
        } else if (cmd == "bg") {
            if (Job* j = job_named(jobs, words)) {
                if (auto r = jobs.continue_background(*j); !r) complain(r.error().message());
                else std::cout << "[" << j->number() << "]" << marker(jobs, *j) << " " << j->command() << " &\n";
            }
        } else if (cmd == "kill") {
            int sig = SIGTERM;
            std::size_t i = 1;
            if (words.size() > 1 && words[1][0] == '-') {
                auto s = parse_signal(words[1].substr(1));
                if (!s) {
                    complain(s.error().message());
                    continue;
                }
                sig = *s;
                ++i;
            }
            for (; i < words.size(); ++i) {
                auto j = jobs.find(words[i]);
                if (!j) complain(j.error().message());
                else if (auto r = (*j)->signal(sig); !r) complain(r.error().message());
            }
        } else {
            // A pipeline: the words between the `|`s are one command each; a trailing & runs it
            // in the background.
            Launch launch = Launch::foreground;
            if (words.back() == "&") {
                launch = Launch::background;
                words.pop_back();
            }
            std::vector<Command> pipeline;
            std::string text;
            bool empty_part = false;
            std::vector<std::string> part;
            words.push_back("|");
            for (const auto& w : words) {
                if (w != "|") {
                    part.push_back(w);
                    continue;
                }
                if (part.empty()) empty_part = true;
                else pipeline.push_back(Command(part[0]).args(std::vector<std::string>(part.begin() + 1, part.end())));
                for (const auto& p : part) text += (text.empty() ? "" : " ") + p;
                text += " |";
                part.clear();
            }
            text.resize(text.size() - 2);
            if (empty_part || pipeline.empty()) {
                complain("cannot parse '" + line + "': empty command in a pipeline");
                continue;
            }
            auto job = jobs.start(std::move(pipeline), text, launch);
            if (!job) {
                complain(job.error().message());
                last = job.error().not_found() ? 127 : 126;
                continue;
            }
            if (launch == Launch::background) {
                std::cout << "[" << (*job)->number() << "] " << (*job)->pids().back() << "\n";
                continue;
            }
            auto st = jobs.wait_foreground(**job);
            if (!st) complain(st.error().message());
            else last = after_foreground(jobs, **job);
        }
    }
    std::cout << "\n";
    return last;
}
