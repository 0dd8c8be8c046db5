// signalbus-publish: flags, then RunPublishCommand.
//   signalbus-publish post_save auth.User --pk 42 --created --field username=alice
//   signalbus-publish --ndjson - < events.ndjson
//   signalbus-admin dlq list profile-creator | signalbus-publish --ndjson -   (ids kept)
#include <iostream>

#include "publish_command.h"
#include "signalbus/core/cli.h"
#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/logging.h"

int main(int argc, char** argv) {
  using namespace signalbus;
  CLI::App app{"Publish Django-style signals to a signalbus broker.", "signalbus-publish"};
  app.set_version_flag("--version", "signalbus-publish 0.1.0");
  PublishCommand command;
  EventFlags flags;
  std::string update_fields;
  std::string timeout = "5s";
  std::string log_level = "warn";
  command.publisher.endpoint = FromEnv(kIngestEnv, kDefaultIngestEndpoint);
  command.publisher.source = FromEnv("SIGNALBUS_SOURCE", "cli");

  app.add_option("signal", flags.signal, "Signal name: post_save, pre_delete, user_logged_in, order_paid, ...");
  app.add_option("sender", flags.sender, "Sender type: a model label such as auth.User");
  app.add_option("--ndjson", command.ndjson_path, "Publish one JSON Event per line from FILE ('-' for stdin): what signalbus-listen, "
                 "signalbus-audit or 'signalbus-admin dlq list' printed; event ids kept, numbered as this publisher's own")
      ->option_text("FILE");
  app.add_option("--broker", command.publisher.endpoint, "Broker ingest endpoint (env SIGNALBUS_INGEST)")
      ->capture_default_str();
  app.add_option("--source", command.publisher.source, "This service's name (env SIGNALBUS_SOURCE)")
      ->capture_default_str();
  app.add_option("--timeout", timeout, "Bound on connecting, sending and flushing")->capture_default_str();
  AddCurveClientFlags(app, &command.publisher.curve);
  app.add_option("--pk", flags.pk, "Primary key of the instance (or user)");
  app.add_option("--event-id", flags.event_id, "Event id to use (re-sending the same event); default: new");
  app.add_flag("--created", flags.created, "post_save: the instance was created");
  app.add_flag("--raw", flags.raw, "Saved as loaded from a fixture");
  app.add_option("--using", flags.database, "Database alias")->capture_default_str();
  app.add_option("--update-fields", update_fields, "Comma-separated update_fields");
  app.add_option("--field", flags.fields, "Instance field (or custom kwarg) name=value; repeatable");
  app.add_option("--json", flags.json, "Instance fields (or custom kwargs) as a JSON object");
  app.add_option("--origin", flags.origin, "Deletes: what started it, app.Model[:pk] (no pk: a QuerySet)");
  app.add_option("--action", flags.action, "m2m_changed: pre_add, post_add, pre_remove, post_remove, ...");
  app.add_option("--model", flags.model, "m2m_changed: the related model label");
  app.add_option("--pk-set", flags.pk_set, "m2m_changed: related pks")->delimiter(',');
  app.add_flag("--reverse", flags.reverse, "m2m_changed: changed from the reverse side");
  app.add_option("--username", flags.username, "Auth signals: the username");
  app.add_option("--credential", flags.credentials, "user_login_failed: name=value (secrets are masked)");
  app.add_option("--remote-addr", flags.remote_addr, "Auth signals: client address");
  app.add_option("--user-agent", flags.user_agent, "Auth signals: client user agent");
  app.add_option("--path", flags.path, "Auth signals: request path");
  app.add_option("--method", flags.method, "Auth signals: request method");
  app.add_option("--header", flags.headers, "Event header name=value; repeatable");
  app.add_flag("--quiet,-q", command.quiet, "Print nothing on success");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e);
  }
  auto usage = [&](const std::string& message) {
    std::cerr << "signalbus-publish: " << message << " (see --help)\n";
    return kExitUsage;
  };
  bool from_flags = !flags.signal.empty() || !flags.sender.empty();
  if (from_flags == !command.ndjson_path.empty()) {
    return usage("give SIGNAL SENDER, or --ndjson FILE, not both");
  }
  if (from_flags && flags.sender.empty()) return usage("SENDER is missing, e.g. signalbus-publish post_save auth.User");
  if (Status s = ValidateEndpoint(command.publisher.endpoint); !s.ok()) return usage("--broker: " + s.message());
  auto parsed_timeout = ParseDuration(timeout);
  if (!parsed_timeout.ok()) return usage("--timeout: " + parsed_timeout.status().message());
  command.timeout = *parsed_timeout;
  if (Status s = InitLogging("signalbus-publish", log_level); !s.ok()) return usage("--log-level: " + s.message());
  if (app.count("--update-fields") > 0) {
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start <= update_fields.size()) {
      std::size_t comma = update_fields.find(',', start);
      std::string name = update_fields.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) names.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    flags.update_fields = names;
  }
  if (from_flags) command.single = flags;
  return RunPublishCommand(command, std::cout, std::cerr);
}
