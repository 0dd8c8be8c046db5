// The validator's fast path (canonical_event.h) against the full parse it stands in
// for: every valid event protobuf writes takes it with the same fields, and on valid,
// invalid, mutated and random bytes it never accepts what the full parse rejects. The
// envelope's limits included (nesting at and around kMaxValueNesting among them), and
// every event accepted prints as JSON that parses back into a valid event.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "canonical_event.h"
#include "sample_events.h"
#include "signalbus/broker/validator.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/event_json.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::OneOfEverySignal;
using ::signalbus::testing::UserCreated;

// What the full path alone decides: parse, ValidateEvent, and the fields it hands on.
std::optional<EventFields> FullPath(std::string_view bytes) {
  v1::Event e;
  if (bytes.empty() || !ParseEvent(bytes, e).ok()) return std::nullopt;
  if (!ValidateEvent(e).ok()) return std::nullopt;
  return EventFields{e.event_id(), e.publisher_id(), e.sequence(), e.unconfirmed_from(), e.ordering_key()};
}

std::string TopicFor(std::string_view bytes) {
  v1::Event e;
  (void)ParseEvent(bytes, e);
  return e.sender() + "/" + e.signal();
}

// Checks one input; returns whether the fast path accepted it.
bool CheckAgreement(const std::string& bytes) {
  std::optional<CanonicalFields> fast = CheckCanonicalEvent(bytes);
  std::optional<EventFields> full = FullPath(bytes);
  if (fast) {
    EXPECT_TRUE(full.has_value()) << "fast path accepted what the full parse rejects: "
                                  << ::testing::PrintToString(bytes);
    if (!full) return true;
    EXPECT_EQ(fast->event_id, full->event_id);
    EXPECT_EQ(fast->publisher_id, full->publisher_id);
    EXPECT_EQ(fast->sequence, full->sequence);
    EXPECT_EQ(fast->unconfirmed_from, full->unconfirmed_from);
    EXPECT_EQ(fast->ordering_key, full->ordering_key);
  }
  // And ValidateMessage as a whole (fast path or not) agrees with the full path.
  Verdict verdict = ValidateMessage(2, TopicFor(bytes), bytes);
  if (verdict.accepted() && full) {
    EXPECT_EQ(verdict.fields().event_id, full->event_id);
    EXPECT_EQ(verdict.fields().ordering_key, full->ordering_key);
  }
  if (verdict.accepted()) {
    EXPECT_TRUE(full.has_value());
  }
  return fast.has_value();
}

// ---- Random events.

class EventMaker {
 public:
  explicit EventMaker(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t Next(std::uint64_t n) { return rng_() % n; }
  bool Chance(int percent) { return static_cast<int>(Next(100)) < percent; }

  // Valid UTF-8 of up to `max` code points from several planes.
  std::string Text(int max) {
    std::string out;
    const int n = static_cast<int>(Next(static_cast<std::uint64_t>(max) + 1));
    for (int i = 0; i < n; ++i) {
      std::uint32_t cp;
      switch (Next(5)) {
        case 0: cp = 0x20 + static_cast<std::uint32_t>(Next(0x5f)); break;
        case 1: cp = 0x80 + static_cast<std::uint32_t>(Next(0x780)); break;
        case 2: cp = 0x800 + static_cast<std::uint32_t>(Next(0xd000 - 0x800)); break;
        case 3: cp = 0xe000 + static_cast<std::uint32_t>(Next(0x2000)); break;
        default: cp = 0x10000 + static_cast<std::uint32_t>(Next(0x100000)); break;
      }
      AppendUtf8(cp, out);
    }
    return out;
  }

  // Values 1 deep, or (rarely) nested to around the limit: one level less, the limit, one more.
  void FillValues(google::protobuf::Struct* s) {
    if (Chance(2)) {
      const int depth = kMaxValueNesting - 1 + static_cast<int>(Next(3));
      *s = ::signalbus::testing::NestedValues(depth, Chance(50));
      if (Chance(50)) (*s->mutable_fields())["more"].set_number_value(1);
      return;
    }
    FillStruct(s, 0);
  }

  void FillValue(google::protobuf::Value* v, int depth) {
    switch (Next(depth > 3 ? 4 : 6)) {
      case 0: v->set_null_value(google::protobuf::NULL_VALUE); break;
      case 1: v->set_number_value(static_cast<double>(Next(1'000'000)) / 7.0); break;
      case 2: v->set_string_value(Text(12)); break;
      case 3: v->set_bool_value(Chance(50)); break;
      case 4: FillStruct(v->mutable_struct_value(), depth + 1); break;
      default:
        for (int i = static_cast<int>(Next(4)); i > 0; --i) FillValue(v->mutable_list_value()->add_values(), depth + 1);
        break;
    }
  }

  void FillStruct(google::protobuf::Struct* s, int depth) {
    for (int i = static_cast<int>(Next(5)); i > 0; --i) FillValue(&(*s->mutable_fields())[Text(6)], depth);
  }

  void FillInstance(v1::Instance* instance, const std::string& sender) {
    if (Chance(90)) instance->set_model(Chance(95) ? sender : "other.Model");
    if (Chance(90)) instance->set_pk(std::to_string(Next(100'000)));
    if (Chance(90)) FillValues(instance->mutable_fields());
  }

  void FillRequest(v1::RequestMeta* r) {
    r->set_method(Chance(50) ? "POST" : "GET");
    r->set_path("/" + Text(8));
    if (Chance(50)) r->set_remote_addr("10.0.0." + std::to_string(Next(255)));
    if (Chance(50)) r->set_user_agent(Text(20));
  }

  // Mostly valid events of every kind; about one in eight breaks one of the rules.
  v1::Event Make() {
    static const char* const kSignals[] = {"pre_save",        "post_save",       "pre_delete",
                                           "post_delete",     "m2m_changed",     "user_logged_in",
                                           "user_logged_out", "user_login_failed", "order_paid"};
    static const char* const kSenders[] = {"auth.User", "shop.Order", "auth.User_groups", "django.contrib.auth"};
    const std::string signal = kSignals[Next(std::size(kSignals))];
    const std::string sender = kSenders[Next(std::size(kSenders))];
    v1::Event e;
    e.set_schema_version(Chance(97) ? kSchemaVersion : static_cast<std::uint32_t>(Next(5)));
    e.set_event_id(Chance(97) ? NewEventId() : Text(26));
    e.set_signal(Chance(98) ? signal : Text(5));
    e.set_sender(Chance(98) ? sender : Text(5));
    if (Chance(90)) e.set_source(Chance(98) ? Text(10) : std::string(kMaxSourceBytes + Next(2), 's'));
    if (Chance(90)) e.set_publisher_id(PublisherId());
    if (Chance(90)) e.set_sequence(Next(1ULL << (1 + Next(62))));
    if (Chance(90)) {
      // Now and then at the end of what a Timestamp allows, or just past either end (a
      // valid negative value takes 10 bytes, so the full parse and not the walk takes it).
      const std::int64_t seconds = Chance(97) ? static_cast<std::int64_t>(Next(2'000'000'000))
                                   : Chance(50) ? kMaxTimestampSeconds + static_cast<std::int64_t>(Next(2))
                                                : kMinTimestampSeconds - 1;
      const std::int32_t nanos = Chance(97) ? static_cast<std::int32_t>(Next(1'000'000'000))
                                            : kMaxTimestampNanos + static_cast<std::int32_t>(Next(2));
      e.mutable_occurred_at()->set_seconds(seconds);
      e.mutable_occurred_at()->set_nanos(nanos);
    }
    if (Chance(90)) {
      e.set_ordering_key(Chance(98) ? sender + ":" + std::to_string(Next(1000))
                                    : std::string(kMaxOrderingKeyBytes + Next(2), 'k'));
    }
    if (Chance(50)) e.set_unconfirmed_from(Next(1'000'000));
    PayloadKind kind = PayloadKindForSignal(signal);
    if (Chance(3)) kind = static_cast<PayloadKind>(Next(6));  // the wrong payload
    switch (kind) {
      case PayloadKind::kModelSave: {
        v1::ModelSave* save = e.mutable_model_save();
        if (Chance(95)) FillInstance(save->mutable_instance(), sender);
        save->set_created(signal == "post_save" ? Chance(50) : Chance(3));
        save->set_raw(Chance(10));
        if (Chance(80)) save->set_using_("default");
        if (Chance(20)) {
          for (int i = static_cast<int>(Next(3)); i >= 0; --i) save->mutable_update_fields()->add_names(Text(6));
        }
        break;
      }
      case PayloadKind::kModelDelete: {
        v1::ModelDelete* del = e.mutable_model_delete();
        FillInstance(del->mutable_instance(), sender);
        if (Chance(80)) del->set_using_("default");
        if (Chance(50)) {
          del->mutable_origin()->set_model(sender);
          del->mutable_origin()->set_pk(std::to_string(Next(100)));
          del->mutable_origin()->set_is_queryset(Chance(50));
        }
        break;
      }
      case PayloadKind::kM2MChanged: {
        v1::M2MChanged* m = e.mutable_m2m_changed();
        m->set_action(static_cast<v1::M2MChanged::Action>(Chance(95) ? 1 + Next(6) : 0));
        FillInstance(m->mutable_instance(), "auth.User");
        m->set_reverse(Chance(50));
        m->set_model("auth.Group");
        for (int i = static_cast<int>(Next(4)); i > 0; --i) m->add_pk_set(std::to_string(Next(100)));
        if (Chance(80)) m->set_using_("default");
        break;
      }
      case PayloadKind::kUserSession: {
        v1::UserSession* u = e.mutable_user_session();
        if (Chance(80)) {
          u->mutable_user()->set_model("auth.User");
          u->mutable_user()->set_pk(std::to_string(Next(100)));
        }
        u->set_username(Text(8));
        if (Chance(80)) FillRequest(u->mutable_request());
        break;
      }
      case PayloadKind::kLoginFailed: {
        v1::LoginFailed* f = e.mutable_login_failed();
        for (int i = static_cast<int>(Next(4)); i > 0; --i) (*f->mutable_credentials())[Text(6)] = Text(10);
        if (Chance(80)) FillRequest(f->mutable_request());
        break;
      }
      case PayloadKind::kCustom: {
        v1::CustomSignal* c = e.mutable_custom();
        if (Chance(90)) FillValues(c->mutable_kwargs());
        if (Chance(70)) c->set_pk(std::to_string(Next(1000)));
        break;
      }
    }
    if (Chance(30)) {
      for (int i = static_cast<int>(Next(3)); i >= 0; --i) (*e.mutable_headers())[Text(5)] = Text(10);
    }
    return e;
  }

  // Mostly a ULID; now and then at or just over the length limit, or with a character
  // the rule does not allow.
  std::string PublisherId() {
    switch (Next(50)) {
      case 0: return std::string(kMaxPublisherIdBytes, 'p');
      case 1: return std::string(kMaxPublisherIdBytes + 1, 'p');
      case 2: return "relay:" + Text(3);
      default: return NewEventId();
    }
  }

  // One damaged or unusual variant of `bytes`.
  std::string Mutate(std::string bytes) {
    const std::size_t size = bytes.size();
    switch (Next(9)) {
      case 0:  // flip a bit
        if (size > 0) bytes[Next(size)] ^= static_cast<char>(1 << Next(8));
        break;
      case 1:  // truncate
        bytes.resize(Next(size + 1));
        break;
      case 2:  // insert a byte
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(Next(size + 1)), static_cast<char>(Next(256)));
        break;
      case 3:  // delete a byte
        if (size > 0) bytes.erase(Next(size), 1);
        break;
      case 4:  // a byte that breaks UTF-8 (or a varint)
        if (size > 0) bytes[Next(size)] = Chance(50) ? '\x80' : '\xff';
        break;
      case 5: {  // append a field: known or unknown number, any wire type
        const std::uint64_t number = 1 + Next(40);
        const std::uint64_t wire = Next(6);
        bytes.push_back(static_cast<char>(((number << 3 | wire) & 0x7f) | (number >= 16 ? 0x80 : 0)));
        if (number >= 16) bytes.push_back(static_cast<char>(number >> 4));
        if (wire == 0) bytes.push_back(static_cast<char>(Next(128)));
        if (wire == 1) bytes.append(8, 'x');
        if (wire == 2) {
          std::string body = Chance(50) ? Text(4) : bytes.substr(0, std::min<std::size_t>(size, 20));
          bytes.push_back(static_cast<char>(body.size()));
          bytes += body;
        }
        if (wire == 5) bytes.append(4, 'y');
        break;
      }
      case 6:  // repeat a slice (a field written twice, or half of one)
        if (size > 1) {
          std::size_t from = Next(size);
          bytes += bytes.substr(from, Next(size - from) + 1);
        }
        break;
      case 7:  // an overlong varint where a tag was
        bytes.insert(0, std::string("\x88\x00\x01", 3));
        break;
      default:  // random bytes
        bytes.clear();
        for (std::size_t i = Next(300); i > 0; --i) bytes.push_back(static_cast<char>(Next(256)));
        break;
    }
    return bytes;
  }

 private:
  static void AppendUtf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | cp >> 12));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | cp >> 18));
      out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  std::mt19937_64 rng_;
};

TEST(ValidatorFastPathTest, EveryKindOfValidEventTakesItWithTheFullParsesFields) {
  std::vector<v1::Event> events = OneOfEverySignal();
  events.push_back(UserCreated("7"));
  for (const v1::Event& event : events) {
    const std::string bytes = EncodeEvent(event);
    ASSERT_TRUE(FullPath(bytes).has_value()) << TopicOf(event);
    EXPECT_TRUE(CheckAgreement(bytes)) << TopicOf(event) << " did not take the fast path";
  }
}

TEST(ValidatorFastPathTest, RandomValidEventsTakeItAndInvalidOnesNever) {
  EventMaker maker(1);
  int valid = 0;
  int fast = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::string bytes = EncodeEvent(maker.Make());
    const bool is_valid = FullPath(bytes).has_value();
    const bool took_fast = CheckAgreement(bytes);
    valid += is_valid;
    fast += took_fast;
    // Written by protobuf and valid: always the fast path.
    if (is_valid) {
      ASSERT_TRUE(took_fast) << ::testing::PrintToString(bytes);
    }
    if (HasFailure()) return;
  }
  EXPECT_GT(valid, 10'000);
  EXPECT_EQ(fast, valid);
}

TEST(ValidatorFastPathTest, DamagedAndUnusualBytesAreNeverAcceptedUnlessTheFullParseAcceptsThem) {
  EventMaker maker(2);
  int fast = 0;
  int full = 0;
  for (int i = 0; i < 60'000; ++i) {
    std::string bytes = EncodeEvent(maker.Make());
    for (int m = static_cast<int>(maker.Next(3)); m >= 0; --m) bytes = maker.Mutate(std::move(bytes));
    fast += CheckAgreement(bytes);
    full += FullPath(bytes).has_value();
    if (HasFailure()) return;
  }
  // Enough of the mutants stay valid (a flipped bit in a string, say) that both
  // answers are exercised; unusual-but-valid ones go to the full parse.
  EXPECT_GT(fast, 1'000);
  EXPECT_GT(full, fast);
}

TEST(ValidatorFastPathTest, UnknownOrRepeatedFieldsGoToTheFullParseWhichStillAcceptsThem) {
  const v1::Event event = UserCreated("9");
  std::string unknown = EncodeEvent(event);
  unknown += std::string("\xf8\x07\x01", 3);  // field 127, varint 1: unknown, valid
  std::string twice = EncodeEvent(event);
  twice += std::string("\x38\x05", 2);  // sequence (7) again, out of order: the last one counts
  // schema_version (1) twice in a row.
  const std::string again = std::string("\x08\x01", 2) + EncodeEvent(event);
  for (const std::string& bytes : {unknown, twice, again}) {
    EXPECT_FALSE(CheckCanonicalEvent(bytes).has_value());
    Verdict verdict = ValidateMessage(2, TopicOf(event), bytes);
    ASSERT_TRUE(verdict.accepted());
    EXPECT_EQ(verdict.fields().event_id, event.event_id());
  }
  EXPECT_EQ(ValidateMessage(2, TopicOf(event), twice).fields().sequence, 5u);
}

TEST(ValidatorFastPathTest, AValidEventUnderTheWrongTopicIsStillAMismatch) {
  const std::string bytes = EncodeEvent(UserCreated("3"));
  ASSERT_TRUE(CheckCanonicalEvent(bytes).has_value());
  Verdict verdict = ValidateMessage(2, "auth.User/post_delete", bytes);
  ASSERT_FALSE(verdict.accepted());
  EXPECT_EQ(verdict.rejection().reason, RejectReason::kTopicMismatch);
}

TEST(ValidatorFastPathTest, ValuesNestedToTheLimitTakeItAndOneLevelMoreGoesToTheFullParseWhichRefusesIt) {
  for (bool arrays : {false, true}) {
    v1::Event at = ::signalbus::testing::UserCreatedWithFieldsNested("1", kMaxValueNesting, arrays);
    EXPECT_TRUE(CheckAgreement(EncodeEvent(at))) << arrays;
    v1::Event custom = OneOfEverySignal().back();
    *custom.mutable_custom()->mutable_kwargs() = ::signalbus::testing::NestedValues(kMaxValueNesting, arrays);
    EXPECT_TRUE(CheckAgreement(EncodeEvent(custom))) << arrays;

    const std::string over =
        EncodeEvent(::signalbus::testing::UserCreatedWithFieldsNested("1", kMaxValueNesting + 1, arrays));
    EXPECT_FALSE(CheckAgreement(over));
    EXPECT_FALSE(FullPath(over).has_value());
  }
}

TEST(ValidatorFastPathTest, TheLenientNestingWalkAgreesWithValidateEventOnEveryEventThatParses) {
  EventMaker maker(3);
  int deep = 0;
  for (int i = 0; i < 20'000; ++i) {
    v1::Event made = maker.Make();
    if (maker.Chance(10)) {
      *made.mutable_custom()->mutable_kwargs() =
          ::signalbus::testing::NestedValues(kMaxValueNesting - 1 + static_cast<int>(maker.Next(3)), maker.Chance(50));
    }
    std::string bytes = EncodeEvent(made);
    if (maker.Chance(30)) bytes = maker.Mutate(std::move(bytes));
    v1::Event parsed;
    if (!ParseEvent(bytes, parsed).ok()) continue;
    const bool too_deep = !ValidateValueNesting(parsed).ok();
    ASSERT_EQ(ExceedsValueNesting(bytes), too_deep) << ::testing::PrintToString(bytes);
    deep += too_deep;
  }
  EXPECT_GT(deep, 100);
}

TEST(ValidatorFastPathTest, EveryEventTheValidatorAcceptsPrintsAsJsonThatParsesBackIntoAValidEvent) {
  EventMaker maker(4);
  int accepted = 0;
  for (int i = 0; i < 30'000; ++i) {
    std::string bytes = EncodeEvent(maker.Make());
    if (maker.Chance(30)) bytes = maker.Mutate(std::move(bytes));
    if (!ValidateMessage(2, TopicFor(bytes), bytes).accepted()) continue;
    ++accepted;
    v1::Event event;
    ASSERT_TRUE(ParseEvent(bytes, event).ok());
    Result<std::string> json = EventToJson(event);
    ASSERT_TRUE(json.ok()) << json.status().message() << " " << ::testing::PrintToString(bytes);
    Result<v1::Event> back = EventFromJson(*json);
    ASSERT_TRUE(back.ok()) << back.status().message() << " " << *json;
    ASSERT_TRUE(ValidateEvent(*back).ok()) << ValidateEvent(*back).message() << " " << *json;
  }
  EXPECT_GT(accepted, 10'000);
}

}  // namespace
}  // namespace signalbus::broker
