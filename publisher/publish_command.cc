// Runs signalbus-publish: builds or reads events, publishes them, flushes.
#include "publish_command.h"

#include <fstream>
#include <iostream>

#include "ndjson_line.h"

namespace signalbus {
namespace {

constexpr const char* kProgram = "signalbus-publish: ";

}  // namespace

int RunPublishCommand(const PublishCommand& command, std::ostream& out, std::ostream& err) {
  // Build the single event before connecting, so a mistake is reported at once.
  std::optional<v1::Event> single;
  if (command.single) {
    auto event = BuildEventFromFlags(*command.single);
    if (!event.ok()) {
      err << kProgram << event.status().message() << "\n";
      return 1;
    }
    single = std::move(*event);
  }
  std::ifstream file;
  std::istream* in = nullptr;
  if (!command.single) {
    if (command.ndjson_path == "-") {
      in = &std::cin;
    } else {
      file.open(command.ndjson_path);
      if (!file) {
        err << kProgram << "cannot read " << command.ndjson_path << "\n";
        return 1;
      }
      in = &file;
    }
  }

  PublisherOptions options = command.publisher;
  options.connect_timeout = command.timeout;
  options.send_timeout = command.timeout;
  auto publisher = Publisher::Connect(options);
  if (!publisher.ok()) {
    err << kProgram << publisher.status().message() << "\n";
    return 1;
  }

  std::uint64_t published = 0;
  std::uint64_t rejected = 0;
  if (single) {
    if (Status s = (*publisher)->Publish(std::move(*single)); !s.ok()) {
      err << kProgram << s.message() << "\n";
      return 1;
    }
    ++published;
  } else {
    std::string line;
    std::uint64_t line_number = 0;
    while (std::getline(*in, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto event = EventFromNdjsonLine(line);
      Status s = event.ok() ? (*publisher)->Publish(std::move(*event)) : event.status();
      if (!s.ok()) {
        // A bad line is reported and skipped; the good lines around it still go out.
        ++rejected;
        err << kProgram << "line " << line_number << ": " << s.message() << "\n";
        if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) break;
        continue;
      }
      ++published;
    }
  }
  if (Status s = (*publisher)->Flush(command.timeout); !s.ok()) {
    err << kProgram << s.message() << "\n";
    return 1;
  }
  if (!command.quiet) out << "published " << published << " event" << (published == 1 ? "" : "s") << "\n";
  if (rejected > 0) {
    err << kProgram << rejected << " line" << (rejected == 1 ? "" : "s") << " not published\n";
    return 1;
  }
  return 0;
}

}  // namespace signalbus
