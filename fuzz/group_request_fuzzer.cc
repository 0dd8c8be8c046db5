// Fuzzes the consumer-group request handler: Coordinator::HandleRequest
// (broker/groups/coordinator.cc, group.cc, admin.cc) with GroupRequest frames decoded
// from the input, as GroupChannel hands them over, interleaved with the clock moving,
// new durable events (single and atomic batches), and members that ack or nack what
// they hold, over a MemoryStore. Input: a list of operations (see the switch below);
// requests are GroupRequest bytes in a frame (fuzz_support.h).
// Asserts, beyond not crashing:
//   - Coordinator::CheckInvariants() after every operation (pending, acks, key gate);
//   - every delivery is of an offset in the log, with the topic and bytes stored there;
//   - a DeliveryBatch holds at most max_batch deliveries, an admin page at most
//     max_admin_reply_bytes (unless it is a single item).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/log/memory_store.h"
#include "signalbus/v1/groups.pb.h"

namespace groups = signalbus::groups;
namespace eventlog = signalbus::eventlog;
namespace v1 = signalbus::v1;
using signalbus::fuzz::FuzzInput;

namespace {

constexpr const char* kTopics[] = {"auth.User/post_save", "shop.Order/order_paid", "shop.Order/post_delete"};
constexpr const char* kPeers[] = {"m0", "m1", "m2", "m3", "admin"};
constexpr std::size_t kMaxBatch = 4;
constexpr std::size_t kMaxAdminReplyBytes = 2048;

groups::CoordinatorOptions Options() {
  groups::CoordinatorOptions o;
  o.max_batch = kMaxBatch;
  o.max_batch_bytes = 1024;
  o.max_scan = 16;
  o.max_held = 8;
  o.max_groups = 4;
  o.max_members = 3;
  o.max_subscriptions = 4;
  o.max_admin_reply_bytes = kMaxAdminReplyBytes;
  o.key_cache_size = 4;
  o.wall_clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'764'000'000)); };
  return o;
}

// Event bytes need not decode: a group that cannot read an event's key treats it as
// having none. Some are real protobuf (a field 13 ordering key), some are not.
std::string EventBytes(std::uint8_t key) {
  std::string e = "\x6a\x01";
  e.push_back(static_cast<char>('a' + key % 4));
  if (key % 5 == 0) e = "\xff\xff not an event";
  return e;
}

struct Run {
  eventlog::MemoryStore store;
  std::map<std::string, std::vector<v1::Delivery>> held;  // by peer
  groups::Coordinator coord{&store, Options(), [this](std::string_view peer, const v1::GroupReply& r) { Sent(peer, r); }};
  groups::TimePoint now{std::chrono::seconds(1000)};

  void Sent(std::string_view peer, const v1::GroupReply& reply) {
    if (reply.has_deliveries()) {
      SIGNALBUS_FUZZ_CHECK(reply.deliveries().deliveries_size() > 0);
      const auto& ds = reply.deliveries().deliveries();
      // Larger only for one atomic unit that goes alone.
      if (static_cast<std::size_t>(ds.size()) > kMaxBatch) {
        SIGNALBUS_FUZZ_CHECK(ds[0].unit_size() == static_cast<std::uint32_t>(ds.size()));
        for (const v1::Delivery& d : ds) SIGNALBUS_FUZZ_CHECK(d.unit_offset() == ds[0].offset());
      }
      for (const v1::Delivery& d : reply.deliveries().deliveries()) {
        auto records = store.Read(d.offset(), 1, 1);
        SIGNALBUS_FUZZ_CHECK(records.ok() && !records->empty());
        SIGNALBUS_FUZZ_CHECK(records->front().offset == d.offset());
        SIGNALBUS_FUZZ_CHECK(records->front().topic == d.topic());
        SIGNALBUS_FUZZ_CHECK(records->front().event == d.event());
        SIGNALBUS_FUZZ_CHECK(d.attempt() >= 1);
        held[std::string(peer)].push_back(d);
      }
    }
    if (reply.has_admin()) {
      const v1::AdminReply& a = reply.admin();
      std::size_t items = 0;
      for (const v1::GroupInfo& g : a.groups()) items += g.ByteSizeLong();
      for (const v1::DeadLetter& l : a.dead_letters()) items += l.ByteSizeLong();
      if (a.groups_size() + a.dead_letters_size() > 1) SIGNALBUS_FUZZ_CHECK(items <= kMaxAdminReplyBytes);
    }
  }

  void Publish(FuzzInput& in) {
    const std::size_t n = 1 + in.Byte() % 4;
    const bool batch = in.Byte() % 3 == 0;
    std::vector<std::string> bytes;
    std::vector<std::string> topics;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t b = in.Byte();
      topics.push_back(kTopics[b % 3]);
      bytes.push_back(EventBytes(b >> 2));
    }
    if (batch) {
      std::vector<eventlog::EventRef> refs;
      for (std::size_t i = 0; i < n; ++i) refs.push_back({topics[i], bytes[i]});
      (void)store.AppendBatch(refs, /*atomic=*/true, 0);
    } else {
      for (std::size_t i = 0; i < n; ++i) (void)store.Append(topics[i], bytes[i], 0);
    }
    auto durable = store.Sync();
    if (durable.ok()) coord.OnDurable(*durable, now);
  }

  // A member answers what it holds: acks all, or nacks the first.
  void Answer(std::string peer, bool nack) {
    std::vector<v1::Delivery>& mine = held[peer];
    if (mine.empty()) return;
    v1::GroupRequest r;
    if (nack) {
      const v1::Delivery& d = mine.front();
      r.mutable_nack()->mutable_delivery()->set_offset(d.unit_size() > 0 ? d.unit_offset() : d.offset());
      r.mutable_nack()->mutable_delivery()->set_attempt(d.attempt());
      r.mutable_nack()->set_error("handler failed");
      mine.erase(mine.begin());
    } else {
      for (const v1::Delivery& d : mine) {
        auto* ref = r.mutable_ack()->add_deliveries();
        ref->set_offset(d.unit_size() > 0 ? d.unit_offset() : d.offset());
        ref->set_attempt(d.attempt());
      }
      mine.clear();
    }
    coord.HandleRequest(peer, r, now);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  Run run;
  SIGNALBUS_FUZZ_CHECK(run.coord.Open().ok());
  for (int ops = 0; !in.empty() && ops < 200; ++ops) {
    const std::uint8_t op = in.Byte();
    const std::string peer = kPeers[(op >> 3) % 5];
    switch (op % 6) {
      case 0: {  // a request frame from a peer
        std::string_view frame = in.Frame();
        v1::GroupRequest request;
        // GroupChannel refuses what does not parse; the coordinator sees the rest.
        if (request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
          run.coord.HandleRequest(peer, request, run.now);
        }
        break;
      }
      case 1:  // time passes: timeouts, retries, expiry
        run.now += std::chrono::milliseconds(in.Byte() * 50);
        break;
      case 2:
        run.Publish(in);
        break;
      case 3:
        run.Answer(peer, /*nack=*/false);
        break;
      case 4:
        run.Answer(peer, /*nack=*/true);
        break;
      case 5:  // the peer disappears without a word (its deliveries time out)
        run.held[peer].clear();
        break;
    }
    run.coord.Tick(run.now);
    run.coord.CheckInvariants();
  }
  std::vector<v1::GroupInfo> infos = run.coord.ListGroups();
  SIGNALBUS_FUZZ_CHECK(infos.size() <= Options().max_groups);
  for (const v1::GroupInfo& g : infos) SIGNALBUS_FUZZ_CHECK(g.ack_floor() <= run.store.next_offset());
  return 0;
}
