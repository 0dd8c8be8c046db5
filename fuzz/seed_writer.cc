// Writes the seed corpus of every fuzz target (fuzz/corpus/<target>/<name>) with the
// real encoders — EncodeEvent, BatchHeader, EncodeRecord/EncodeBatchRecord,
// SerializeIndex, EncodeGroupState, the dead-letter framing — so that fuzzing starts
// from inputs that reach deep, plus a few that break one rule each. Deterministic:
// running it again rewrites the same bytes. Run by `scripts/fuzz --write-seeds`.
//
// Usage: fuzz_seed_writer <corpus dir>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "group_state.pb.h"
#include "log_record.h"
#include "record_file.h"
#include "sample_events.h"
#include "segment.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/v1/groups.pb.h"
#include "signalbus/v1/publish.pb.h"
#include "state_file.h"

namespace eventlog = signalbus::eventlog;
namespace groups = signalbus::groups;
namespace v1 = signalbus::v1;
using signalbus::fuzz::AppendFrame;

namespace {

std::filesystem::path root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::filesystem::path dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A valid event id that is the same on every run.
std::string FixedId(int n) {
  std::string id = "01JDQ6X5Z8K2M3N4P5Q6R7S8";
  id += static_cast<char>('0' + n / 10 % 10);
  id += static_cast<char>('0' + n % 10);
  return id;
}

// Sample events made deterministic: fixed ids, publisher "pub-seed", sequences from 1.
std::vector<v1::Event> Events() {
  std::vector<v1::Event> out = signalbus::testing::OneOfEverySignal();
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].set_event_id(FixedId(static_cast<int>(i)));
    out[i].set_publisher_id("pub-seed");
    out[i].set_sequence(i + 1);
  }
  return out;
}

v1::Event User(int n) {
  v1::Event e = signalbus::testing::UserCreated(std::to_string(n));
  e.set_event_id(FixedId(50 + n));
  e.set_publisher_id("pub-seed");
  e.set_sequence(static_cast<std::uint64_t>(n));
  return e;
}

std::string Frames(std::uint8_t first_byte, const std::vector<std::string>& frames) {
  std::string out(1, static_cast<char>(first_byte));
  for (const std::string& f : frames) AppendFrame(&out, f);
  return out;
}

// ---- validator_fuzzer: [frame count byte][topic frame][event]
void ValidatorSeeds() {
  int n = 0;
  for (const v1::Event& e : Events()) {
    std::string in(1, '\0');
    AppendFrame(&in, signalbus::TopicOf(e));
    in += signalbus::EncodeEvent(e);
    Write("validator", "valid_" + std::to_string(n++), in);
  }
  const std::string user = signalbus::EncodeEvent(User(1));
  auto with = [](std::string_view topic, const std::string& event, char count = 0) {
    std::string in(1, count);
    AppendFrame(&in, topic);
    return in + event;
  };
  Write("validator", "topic_mismatch", with("shop.Order/post_save", user));
  Write("validator", "bad_topic", with("no-slash", user));
  Write("validator", "three_frames", with("auth.User/post_save", user, '\xf3'));
  Write("validator", "empty_event", with("auth.User/post_save", ""));
  Write("validator", "truncated", with("auth.User/post_save", user.substr(0, user.size() / 2)));
  // Not canonical (an unknown field at the end): the full parse decides.
  Write("validator", "unknown_field", with("auth.User/post_save", user + std::string("\xf8\x07\x01", 3)));
  // Fields out of order: a later field first.
  v1::Event late = User(2);
  std::string tail = signalbus::EncodeEvent(late);
  Write("validator", "reordered", with("auth.User/post_save", std::string("\x6a\x03x:y", 5) + tail));
  v1::Event bad = User(3);
  bad.set_schema_version(99);
  Write("validator", "bad_schema", with("auth.User/post_save", signalbus::EncodeEvent(bad)));
  Write("validator", "nested_ok",
        with("auth.User/post_save", signalbus::EncodeEvent(signalbus::testing::UserCreatedWithFieldsNested("4", 8))));
  Write("validator", "nested_deep",
        with("auth.User/post_save",
             signalbus::EncodeEvent(signalbus::testing::UserCreatedWithFieldsNested("5", 40, true))));
}

// ---- ingest_batch_fuzzer: [mode byte: 1 = "$batch" first][frames]
std::string Header(std::uint32_t count, bool atomic) {
  v1::BatchHeader h;
  h.set_count(count);
  h.set_atomic(atomic);
  return h.SerializeAsString();
}

void IngestSeeds() {
  std::vector<std::string> pairs;
  for (int i = 1; i <= 3; ++i) {
    v1::Event e = User(i);
    pairs.push_back(signalbus::TopicOf(e));
    pairs.push_back(signalbus::EncodeEvent(e));
  }
  auto batch = [&](std::uint32_t count, bool atomic, std::vector<std::string> items) {
    items.insert(items.begin(), Header(count, atomic));
    return Frames(1, items);
  };
  Write("ingest_batch", "batch_3", batch(3, false, pairs));
  Write("ingest_batch", "atomic_3", batch(3, true, pairs));
  std::vector<std::string> gap = pairs;
  v1::Event third = User(7);
  gap[5] = signalbus::EncodeEvent(third);
  Write("ingest_batch", "atomic_gap", batch(3, true, gap));
  std::vector<std::string> one_bad = pairs;
  one_bad[3] = "garbage";
  Write("ingest_batch", "atomic_one_bad", batch(3, true, one_bad));
  Write("ingest_batch", "count_mismatch", batch(2, false, pairs));
  std::vector<std::string> unpaired = pairs;
  unpaired.pop_back();
  Write("ingest_batch", "unpaired", batch(3, false, unpaired));
  std::vector<std::string> many;
  for (int i = 1; i <= 9; ++i) {
    v1::Event e = User(10 + i);
    many.push_back(signalbus::TopicOf(e));
    many.push_back(signalbus::EncodeEvent(e));
  }
  Write("ingest_batch", "over_count", batch(9, false, many));
  Write("ingest_batch", "no_header", Frames(1, {}));
  Write("ingest_batch", "bad_header", Frames(1, {"\xff\xff", pairs[0], pairs[1]}));
  Write("ingest_batch", "single_event", Frames(0, {pairs[0], pairs[1]}));
  Write("ingest_batch", "single_three_frames", Frames(0, {pairs[0], pairs[1], "extra"}));
  v1::PublisherHello hello;
  hello.set_publisher_id("pub-seed");
  Write("ingest_batch", "hello", Frames(0, {std::string(signalbus::kHelloKind), hello.SerializeAsString()}));
  Write("ingest_batch", "probe", Frames(0, {""}));
}

// ---- group_request_fuzzer: operations; op byte = kind | peer << 3
enum Op : std::uint8_t { kRequest = 0, kTime = 1, kPublish = 2, kAck = 3, kNack = 4, kVanish = 5 };
std::string OpByte(Op op, int peer) { return std::string(1, static_cast<char>(op | (peer << 3))); }
std::string RequestOp(int peer, const v1::GroupRequest& r) {
  std::string out = OpByte(kRequest, peer);
  AppendFrame(&out, r.SerializeAsString());
  return out;
}
std::string PublishOp(int n, bool batch) {
  std::string out = OpByte(kPublish, 0);
  out.push_back(static_cast<char>(n - 1));
  out.push_back(batch ? 0 : 1);
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(i * 7));
  return out;
}
v1::GroupRequest Join(const std::string& group, std::vector<std::string> subscriptions, std::uint32_t credits) {
  v1::GroupRequest r;
  r.mutable_join()->set_group(group);
  r.mutable_join()->set_member_name("seed-member");
  for (const std::string& s : subscriptions) r.mutable_join()->mutable_config()->add_subscriptions(s);
  r.mutable_join()->mutable_config()->mutable_start()->set_earliest(true);
  r.mutable_join()->mutable_config()->set_max_deliver(2);
  r.mutable_join()->mutable_config()->set_ack_timeout_ms(500);
  r.mutable_join()->set_credits(credits);
  r.mutable_join()->set_heartbeat_ms(1000);
  return r;
}

void GroupRequestSeeds() {
  const std::string time = OpByte(kTime, 0) + std::string(1, '\x14');  // 1 s
  const std::string join0 = RequestOp(0, Join("orders", {"*"}, 4));
  const std::string join1 = RequestOp(1, Join("orders", {"auth.User/*"}, 2));
  const std::string join2 = RequestOp(2, Join("audit", {"*/post_save", "shop.Order/order_paid"}, 8));
  Write("group_request", "join_publish_ack", join0 + PublishOp(4, false) + OpByte(kAck, 0) + time + OpByte(kAck, 0));
  Write("group_request", "two_members_nack",
        join0 + join1 + PublishOp(4, true) + OpByte(kNack, 0) + OpByte(kNack, 1) + time + OpByte(kNack, 0) + time +
            OpByte(kAck, 1));
  Write("group_request", "timeout_redeliver", join0 + PublishOp(3, false) + OpByte(kVanish, 0) + time + time + time +
                                                  OpByte(kAck, 0));
  v1::GroupRequest credit;
  credit.mutable_credit()->set_credits(10);
  v1::GroupRequest heartbeat;
  heartbeat.mutable_heartbeat();
  v1::GroupRequest leave;
  leave.mutable_leave();
  Write("group_request", "credit_heartbeat_leave",
        join2 + PublishOp(4, false) + RequestOp(2, credit) + RequestOp(2, heartbeat) + OpByte(kAck, 2) +
            RequestOp(2, leave) + time);
  v1::GroupRequest ranges;
  auto* range = ranges.mutable_ack()->add_ranges();
  range->set_first(1);
  range->set_count(4);
  range->set_attempt(1);
  Write("group_request", "ack_ranges", join0 + PublishOp(4, false) + RequestOp(0, ranges));
  // Admin: a dead letter, listed, replayed, purged; seek; settings; delete.
  v1::GroupRequest list_groups;
  list_groups.mutable_list_groups();
  v1::GroupRequest list_dlq;
  list_dlq.mutable_list_dead_letters()->set_group("orders");
  v1::GroupRequest replay;
  replay.mutable_replay_dead_letters()->set_group("orders");
  v1::GroupRequest purge;
  purge.mutable_purge_dead_letters()->set_group("orders");
  purge.mutable_purge_dead_letters()->add_offsets(1);
  v1::GroupRequest seek;
  seek.mutable_seek_group()->set_group("orders");
  seek.mutable_seek_group()->mutable_position()->set_offset(2);
  v1::GroupRequest settings;
  settings.mutable_set_group_settings()->set_group("orders");
  settings.mutable_set_group_settings()->set_max_deliver(5);
  settings.mutable_set_group_settings()->set_backoff_initial_ms(10);
  v1::GroupRequest del;
  del.mutable_delete_group()->set_group("audit");
  const std::string dead = join0 + PublishOp(2, false) + OpByte(kNack, 0) + time + OpByte(kNack, 0) + time;
  Write("group_request", "admin_dead_letters",
        dead + RequestOp(4, list_dlq) + RequestOp(4, replay) + OpByte(kAck, 0) + RequestOp(4, purge) +
            RequestOp(4, list_groups));
  Write("group_request", "admin_seek_settings_delete",
        join0 + join2 + PublishOp(4, true) + RequestOp(4, seek) + RequestOp(4, settings) + RequestOp(2, leave) +
            RequestOp(4, del) + RequestOp(4, list_groups) + OpByte(kAck, 0));
  // Refusals: bad names, too many groups, a position past the head.
  v1::GroupRequest bad_name = Join("no spaces allowed", {"*"}, 1);
  v1::GroupRequest no_subs = Join("empty", {}, 1);
  v1::GroupRequest far = Join("far", {"*"}, 1);
  far.mutable_join()->mutable_config()->mutable_start()->set_offset(1000);
  std::string limits = RequestOp(0, bad_name) + RequestOp(1, no_subs) + RequestOp(2, far);
  for (int i = 0; i < 5; ++i) limits += RequestOp(i % 4, Join("g" + std::to_string(i), {"*"}, 1));
  Write("group_request", "refusals", limits);
}

// ---- log_record_fuzzer and segment_fuzzer: real records
std::string Records(std::uint64_t first, int count, bool with_batch) {
  std::string out;
  std::uint64_t offset = first;
  for (int i = 0; i < count; ++i) {
    const v1::Event e = User(i + 1);
    const std::string event = signalbus::EncodeEvent(e);
    if (with_batch && i == 1) {
      std::vector<eventlog::EventRef> refs = {{"auth.User/post_save", event}, {"shop.Order/order_paid", "x"},
                                               {"a.B/c", ""}};
      eventlog::EncodeBatchRecord(&out, offset, 1'764'000'000'000 + i, /*atomic=*/i % 2 == 1, refs);
      offset += refs.size();
      continue;
    }
    eventlog::EncodeRecord(&out, offset, 1'764'000'000'000 + i, signalbus::TopicOf(e), event);
    ++offset;
  }
  return out;
}

void LogRecordSeeds() {
  Write("log_record", "records", std::string(1, '\0') + Records(1, 3, false));
  Write("log_record", "with_batch", std::string(1, '\0') + Records(1, 3, true));
  std::string damaged = Records(1, 3, true);
  damaged[40] ^= 0x20;
  Write("log_record", "damaged_fixed", std::string(1, '\1') + damaged);
  Write("log_record", "torn", std::string(1, '\0') + Records(1, 2, false).substr(0, 200));
  std::string small;
  eventlog::EncodeRecord(&small, 7, -1, "", "");
  Write("log_record", "empty_record", std::string(1, '\0') + small);
  eventlog::SegmentIndex index;
  index.entries = {{1, 0, INT64_MIN}, {5, 400, 1'764'000'000'000}};
  index.skipped = {{500, 600}};
  index.next_offset = 9;
  index.log_bytes = 1 << 20;
  index.max_timestamp = 1'764'000'000'005;
  Write("log_record", "index", std::string(1, '\0') + eventlog::SerializeIndex(index));
}

// [flags][bases][frames: segment 1, its index, segment 2]
std::string SegmentInput(std::uint8_t flags, std::uint8_t base2, const std::string& seg1, const std::string& index,
                         const std::string& seg2) {
  std::string out(1, static_cast<char>(flags));
  out.push_back(static_cast<char>(base2 - 1));
  AppendFrame(&out, seg1);
  AppendFrame(&out, index);
  AppendFrame(&out, seg2);
  return out;
}

eventlog::SegmentIndex IndexOf(const std::string& seg, std::uint64_t base) {
  eventlog::SegmentIndex index;
  std::uint64_t pos = 0;
  std::uint64_t offset = base;
  std::int64_t max_ts = INT64_MIN;
  while (pos < seg.size()) {
    eventlog::RecordView rec;
    if (eventlog::ParseRecord(seg.data() + pos, seg.size() - pos, &rec) != eventlog::ParseResult::kOk) break;
    index.entries.push_back({rec.offset, pos, max_ts});
    max_ts = std::max(max_ts, rec.timestamp_ms);
    offset = rec.offset + rec.count;
    pos += rec.size;
  }
  index.first_offset = base;
  index.next_offset = offset;
  index.log_bytes = seg.size();
  index.max_timestamp = max_ts;
  return index;
}

void SegmentSeeds() {
  const std::string seg = Records(1, 4, true);  // offsets 1..6
  Write("segment", "one_segment", SegmentInput(0, 1, seg, "", ""));
  Write("segment", "torn_tail", SegmentInput(0, 1, seg.substr(0, seg.size() - 9), "", ""));
  std::string middle = seg;
  middle[60] ^= 1;
  Write("segment", "damaged_middle", SegmentInput(0, 1, middle, "", ""));
  Write("segment", "damaged_skip", SegmentInput(4, 1, middle, "", ""));
  Write("segment", "damaged_fixed", SegmentInput(1, 1, middle, "", ""));
  const std::string second = Records(7, 2, false);
  const std::string index = eventlog::SerializeIndex(IndexOf(seg, 1));
  Write("segment", "two_segments", SegmentInput(2, 7, seg, "", second));
  Write("segment", "two_segments_index", SegmentInput(2 | 16, 7, seg, index, second));
  Write("segment", "two_segments_trusted", SegmentInput(2 | 8 | 16, 7, seg, index, second));
  Write("segment", "gap_between", SegmentInput(2 | 4, 9, seg, "", Records(9, 1, false)));
  Write("segment", "overlap", SegmentInput(2, 4, seg, "", Records(4, 1, false)));
  // High offsets: base offsets from the input (flag 32), near the top of the range.
  std::string high(1, static_cast<char>(32));
  const std::uint64_t top = UINT64_MAX - 3;
  for (std::uint64_t b : {top, std::uint64_t{0}}) {
    for (int i = 0; i < 8; ++i) high.push_back(static_cast<char>(b >> (8 * i)));
  }
  AppendFrame(&high, Records(top, 2, false));
  AppendFrame(&high, "");
  AppendFrame(&high, "");
  Write("segment", "high_offsets", high);
}

// ---- group_state_fuzzer: the file's bytes
void GroupStateSeeds() {
  groups::GroupStateData s;
  s.name = "orders";
  s.config.add_subscriptions("*");
  s.config.set_max_deliver(3);
  s.config.set_ack_timeout_ms(1000);
  Write("group_state", "fresh", groups::EncodeGroupState(s));
  s.ack_floor = 4;
  s.finished_runs = {{6, 2}, {10, 1}, {19, 3}};
  s.acked = 9;
  s.redelivered = 2;
  Write("group_state", "runs", groups::EncodeGroupState(s));
  const std::string runs = groups::EncodeGroupState(s);
  Write("group_state", "torn", runs.substr(0, runs.size() - 3));
  groups::GroupStateData past = s;
  past.ack_floor = 40;
  past.finished_runs = {{42, 1}};
  Write("group_state", "past_log_end", groups::EncodeGroupState(past));
  groups::GroupStateData runs_past = s;
  runs_past.finished_runs = {{20, 100}};
  Write("group_state", "runs_past_log_end", groups::EncodeGroupState(runs_past));
  groups::GroupStateData other = s;
  other.name = "someone-else";
  Write("group_state", "wrong_name", groups::EncodeGroupState(other));
  groups::GroupStateData no_subs = s;
  no_subs.config.clear_subscriptions();
  Write("group_state", "no_subscriptions", groups::EncodeGroupState(no_subs));
  groups::GroupStateData patterns = s;
  patterns.config.clear_subscriptions();
  patterns.config.add_subscriptions("auth.User/*");
  patterns.config.add_subscriptions("*/order_paid");
  Write("group_state", "patterns", groups::EncodeGroupState(patterns));
  Write("group_state", "header_only", groups::FileHeader(groups::kStateMagic));
}

// ---- dead_letter_fuzzer: the file's bytes
void DeadLetterSeeds() {
  auto letter = [](std::uint64_t offset) {
    v1::DeadLetter l;
    l.set_offset(offset);
    l.set_attempts(3);
    l.set_error("handler failed");
    l.set_topic("auth.User/post_save");
    l.set_event(signalbus::EncodeEvent(User(static_cast<int>(offset))));
    l.mutable_dead_lettered_at()->set_seconds(1'764'000'000);
    return l.SerializeAsString();
  };
  std::string file = groups::FileHeader(groups::kDeadLetterMagic);
  groups::AppendRecord(1, letter(3), &file);
  groups::AppendRecord(1, letter(8), &file);
  Write("dead_letter", "two_letters", file);
  groups::internal::DeadLetterRemoval removal;
  removal.add_offsets(3);
  std::string removed = file;
  groups::AppendRecord(2, removal.SerializeAsString(), &removed);
  groups::AppendRecord(1, letter(20), &removed);
  groups::AppendRecord(1, letter(8), &removed);  // replaces the first 8
  Write("dead_letter", "add_remove_replace", removed);
  Write("dead_letter", "torn_tail", removed.substr(0, removed.size() - 5));
  std::string bad_type = file;
  groups::AppendRecord(9, "?", &bad_type);
  Write("dead_letter", "unknown_type", bad_type);
  std::string damaged = file;
  damaged[20] ^= 1;
  Write("dead_letter", "damaged_middle", damaged);
  Write("dead_letter", "header_only", groups::FileHeader(groups::kDeadLetterMagic));
  Write("dead_letter", "torn_header", groups::FileHeader(groups::kDeadLetterMagic).substr(0, 5));
  std::string past = file;
  groups::AppendRecord(1, letter(100), &past);
  Write("dead_letter", "past_log_end", past);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus dir>\n";
    return 2;
  }
  root = argv[1];
  ValidatorSeeds();
  IngestSeeds();
  GroupRequestSeeds();
  LogRecordSeeds();
  SegmentSeeds();
  GroupStateSeeds();
  DeadLetterSeeds();
  return 0;
}
