// Protocol: bad input never stops the engine. Drives the engine in-process (lines in, events out) and
// through the real server loop over a pipe (reader thread, oversize line, EOF -> abort all + bye).
#include <unistd.h>

#include <cstdlib>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/experiments.h"
#include "engine/engine.h"
#include "engine/server_loop.h"
#include "protocol.h"
#include "test_util.h"

using namespace attnbench;
using nlohmann::json;

static std::vector<json> parse_all(const std::vector<std::string>& lines) {
  std::vector<json> out;
  for (const auto& l : lines) out.push_back(json::parse(l));
  return out;
}

static int count(const std::vector<json>& evs, const std::string& ev, const std::string& key = "",
                 const std::string& value = "") {
  int n = 0;
  for (const auto& e : evs)
    if (e["ev"] == ev && (key.empty() || (e.contains(key) && e[key] == value))) ++n;
  return n;
}

static void in_process() {
  EngineOptions opt;  // synthetic:tiny
  std::vector<std::string> lines;
  Engine engine(opt, [&](const std::string& l) { lines.push_back(l); });
  const char* input[] = {
      R"({"op":"add","id":"good1","prompt":[1,2,3],"max_tokens":5,"temperature":0,"ignore_eos":true,"logprobs":true})",
      R"(this is not json)",
      R"([1,2,3])",
      R"({"op":"frobnicate","id":"x"})",
      R"({"id":"noop"})",
      R"({"op":"add","id":"good1","prompt":[4],"max_tokens":2})",
      R"({"op":"abort","id":"nobody"})",
      R"({"op":"add","id":"badtok","prompt":[1,99999]})",
      R"({"op":"add","id":"emptyprompt","prompt":[]})",
      R"({"op":"add","id":"badtemp","prompt":[1],"temperature":-1})",
      R"({"op":"add","id":"badtopp","prompt":[1],"top_p":0})",
      R"({"op":"add","prompt":[1]})",
      R"({"op":"add","id":"toolong","prompt":[1,2,3],"max_tokens":300})",
      R"({"op":"add","id":"good2","prompt":[9,8,7,6],"max_tokens":3,"temperature":0.7,"seed":5})",
      R"({"op":"add","id":"victim","prompt":[5],"max_tokens":50})",
      R"({"op":"abort","id":"victim"})",
      R"({"op":"stats"})",
  };
  for (const char* l : input) engine.handle_line(l);
  engine.handle_line(std::string(kMaxLineBytes + 10, ' ') + "x");
  while (engine.has_work()) engine.step();
  engine.handle_line(R"({"op":"stats"})");
  engine.handle_line(R"({"op":"shutdown"})");
  engine.handle_line(R"({"op":"stats"})");  // after shutdown: ignored
  auto evs = parse_all(lines);

  CHECK(count(evs, "error", "code", "bad_json") == 2, "malformed JSON and a non-object give bad_json");
  CHECK(count(evs, "error", "code", "bad_op") == 2, "unknown and missing op give bad_op");
  CHECK(count(evs, "error", "code", "duplicate_id") == 1, "duplicate live id gives duplicate_id");
  CHECK(count(evs, "error", "code", "unknown_id") == 1, "abort of an unknown id gives unknown_id");
  CHECK(count(evs, "error", "code", "bad_field") == 1, "add without id gives bad_field");
  CHECK(count(evs, "error", "code", "line_too_long") == 1, "oversize line gives line_too_long");
  for (const char* id : {"badtok", "emptyprompt", "badtemp", "badtopp", "toolong"}) {
    int done_err = 0, other = 0;
    for (const auto& e : evs)
      if (e.contains("id") && e["id"] == id) {
        if (e["ev"] == "done" && e["finish"] == "error" && e.contains("error")) ++done_err;
        else ++other;
      }
    CHECK(done_err == 1 && other == 0, std::string(id) + ": rejected add ends with one done/error and nothing else");
  }
  int good1_toks = 0, good1_done = 0, good2_toks = 0;
  for (const auto& e : evs) {
    if (e.contains("id") && e["id"] == "good1" && e["ev"] == "tok") {
      ++good1_toks;
      CHECK(e.contains("logprobs") && e["logprobs"].size() == 1 && e["t_ns"].get<uint64_t>() > 0, "tok carries logprobs and t_ns");
    }
    if (e.contains("id") && e["id"] == "good1" && e["ev"] == "done") {
      ++good1_done;
      CHECK(e["finish"] == "length" && e["output_tokens"] == 5 && e["prompt_tokens"] == 3, "good1 done: length, 5 tokens");
    }
    if (e.contains("id") && e["id"] == "good2" && e["ev"] == "tok") {
      ++good2_toks;
      CHECK(!e.contains("logprobs"), "no logprobs unless asked");
    }
  }
  CHECK(good1_toks == 5 && good1_done == 1, "good request served despite the bad lines around it");
  CHECK(good2_toks == 3, "second good request served");
  CHECK(count(evs, "done", "id", "victim") == 1 && count(evs, "done", "finish", "abort") == 1, "abort ends the victim once");
  CHECK(count(evs, "stats") == 2 && count(evs, "bye") == 1, "stats answered, one bye, nothing after shutdown");
  CHECK(evs.back()["ev"] == "bye", "bye is last");
  CHECK(engine.num_free_kv_blocks() == engine.num_kv_blocks(), "blocks freed after abort and finish");

  // A stop token ends with finish=stop and is included in the output.
  lines.clear();
  Engine e2(opt, [&](const std::string& l) { lines.push_back(l); });
  e2.handle_line(R"({"op":"add","id":"probe","prompt":[1,2,3],"max_tokens":3,"temperature":0,"ignore_eos":true})");
  while (e2.has_work()) e2.step();
  const int first = parse_all(lines)[0]["tokens"][0];
  lines.clear();
  e2.handle_line(R"({"op":"add","id":"stopper","prompt":[1,2,3],"max_tokens":3,"temperature":0,"ignore_eos":true,"stop_token_ids":[)" +
                 std::to_string(first) + "]}");
  while (e2.has_work()) e2.step();
  evs = parse_all(lines);
  CHECK(evs.back()["ev"] == "done" && evs.back()["finish"] == "stop" && evs.back()["output_tokens"] == 1 &&
            count(evs, "tok") == 1 && evs[0]["tokens"][0] == first,
        "stop token ends the request, counted and sent in the last tok");

  // top_logprobs: k alternatives per token, best first, the greedy token first with its own logprob.
  lines.clear();
  e2.handle_line(R"({"op":"add","id":"top","prompt":[1,2,3],"max_tokens":4,"temperature":0,"ignore_eos":true,"logprobs":true,"top_logprobs":5})");
  e2.handle_line(R"({"op":"add","id":"toomany","prompt":[1],"top_logprobs":21})");
  while (e2.has_work()) e2.step();
  evs = parse_all(lines);
  int top_toks = 0;
  for (const auto& e : evs) {
    if (e["ev"] != "tok" || e["id"] != "top") continue;
    ++top_toks;
    const json& alts = e["top_logprobs"];
    CHECK(alts.size() == 1 && alts[0].size() == 5, "one list of 5 alternatives per token");
    CHECK(alts[0][0][0] == e["tokens"][0] && std::fabs(alts[0][0][1].get<double>() - e["logprobs"][0].get<double>()) < 1e-6,
          "greedy: the first alternative is the chosen token, same logprob");
    bool sorted = true;
    for (size_t i = 1; i < alts[0].size(); ++i) sorted &= alts[0][i][1].get<double>() <= alts[0][i - 1][1].get<double>();
    CHECK(sorted, "alternatives best first");
  }
  CHECK(top_toks == 4, "top request served");
  CHECK(count(evs, "done", "id", "toomany") == 1 && count(evs, "done", "finish", "error") == 1, "top_logprobs > 20 is a bad field");
  for (const auto& e : evs)
    if (e["id"] == "toomany") CHECK(e["error"].get<std::string>().find("top_logprobs") != std::string::npos, "the error names top_logprobs");
}

// The real loop: reader thread, pipe, oversize line streamed, EOF while a request is live.
static void over_pipe() {
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  EngineOptions opt;
  std::mutex mu;
  std::vector<std::string> lines;
  Engine engine(opt, [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(l);
  });
  std::atomic<int> rc{-1};
  std::thread server([&] { rc = run_server(engine, fds[0]); });
  auto write_all = [&](const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = write(fds[1], s.data() + off, s.size() - off);
      if (n <= 0) return;
      off += n;
    }
  };
  write_all("{\"op\":\"add\",\"id\":\"a\",\"prompt\":[1,2],\"max_tokens\":4,\"temperature\":0}\n");
  write_all(std::string(3 << 20, 'x') + "\n");  // 3 MiB line, streamed through the reader
  write_all("{\"op\":\"bogus\"}\n");
  // Wait until "a" is done, then leave "b" live and close stdin: EOF must abort it and say bye.
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (count(parse_all(lines), "done", "id", "a")) break;
    }
    usleep(1000);
  }
  write_all("{\"op\":\"add\",\"id\":\"b\",\"prompt\":[1],\"max_tokens\":200,\"temperature\":0}\n");
  close(fds[1]);
  server.join();
  close(fds[0]);
  auto evs = parse_all(lines);
  CHECK(rc == 0, "server loop exits 0 on EOF");
  CHECK(count(evs, "error", "code", "line_too_long") == 1, "3 MiB line reported as line_too_long");
  CHECK(count(evs, "error", "code", "bad_op") == 1, "bad op after the oversize line still parsed");
  CHECK(count(evs, "done", "id", "a") == 1 && count(evs, "tok", "id", "a") == 4, "request a served over the pipe");
  CHECK(count(evs, "done", "id", "b") == 1 && count(evs, "done", "finish", "abort") == 1, "EOF aborts the live request");
  CHECK(!evs.empty() && evs.back()["ev"] == "bye", "EOF ends with bye");
}

// The hand-formatted tok event equals the JSON library's, ids with escapes and invalid UTF-8 included.
static void tok_event_fast_equals_slow() {
  const float lps[] = {-1.2345678f, 0.f, -0.1f, -1e-8f, -87.33654f};
  const std::string ids[] = {"r1", "a\"b\\c\n\t", "\xff\xfe bad utf8", "\xc3\xa9t\xc3\xa9", ""};
  for (const auto& id : ids)
    for (int32_t tok : {0, 7, 50256, 2147483647})
      for (uint64_t t : {(uint64_t)0, (uint64_t)123456789012345ull}) {
        CHECK(attnbench::tok_event(id, tok, nullptr, t) == attnbench::tok_event_slow(id, tok, nullptr, t), "tok_event fast == slow");
        for (float lp : lps)
          CHECK(attnbench::tok_event(id, tok, &lp, t) == attnbench::tok_event_slow(id, tok, &lp, t),
                "tok_event fast == slow with logprob");
        const attnbench::TopLogprobs top = {{tok, -0.5f}, {3, -1.25f}, {0, -87.33654f}};
        CHECK(attnbench::tok_event(id, tok, &lps[0], t, &top) == attnbench::tok_event_slow(id, tok, &lps[0], t, &top),
              "tok_event fast == slow with top_logprobs");
      }
}

// The ready event names the ATTNBENCH_* switches that were set (and only those), so results files
// say which kernel paths ran; a bad value is an error naming the variable.
static void ready_reports_switches() {
  auto ready_of = [](const EngineOptions& opt) {
    std::vector<std::string> lines;
    Engine engine(opt, [&](const std::string& l) { lines.push_back(l); });
    engine.emit_ready();
    for (const auto& l : lines) {
      json e = json::parse(l);
      if (e["ev"] == "ready") return e;
    }
    return json();
  };
  EngineOptions plain;
  plain.exp = read_experiment_switches();
  json r = ready_of(plain);
  CHECK(r.is_object() && r["config"]["experiments"].is_object() && r["config"]["experiments"].empty(),
        "ready: config.experiments is an empty object when no switch is set");
  setenv("ATTNBENCH_PREFILL_PERSIST", "0", 1);
  setenv("ATTNBENCH_DECODE_TCP", "1", 1);
  setenv("ATTNBENCH_NOT_A_SWITCH", "1", 1);
  EngineOptions opt;
  opt.exp = read_experiment_switches();
  r = ready_of(opt);
  const json& x = r["config"]["experiments"];
  CHECK(x.size() == 2 && x.value("ATTNBENCH_PREFILL_PERSIST", "") == "0" && x.value("ATTNBENCH_DECODE_TCP", "") == "1",
        "ready: config.experiments lists the switches set, with their values, and nothing the engine does not read");
  setenv("ATTNBENCH_DECODE_TCP", "7", 1);
  bool threw = false;
  try {
    read_experiment_switches();
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("ATTNBENCH_DECODE_TCP") != std::string::npos;
  }
  CHECK(threw, "a switch out of range is an error naming it");
  for (const char* v : {"ATTNBENCH_PREFILL_PERSIST", "ATTNBENCH_DECODE_TCP", "ATTNBENCH_NOT_A_SWITCH"}) unsetenv(v);
  CHECK(read_experiment_switches().set_vars.empty(), "after a throw, a later read records only its own variables");
}

int main() {
  attnbench_test::init();
  tok_event_fast_equals_slow();
  ready_reports_switches();
  in_process();
  over_pipe();
  return attnbench_test::finish("test_protocol");
}
