// ParseUntrusted: a protobuf parse whose complaints go into its Status.
#include "signalbus/core/proto_parse.h"

#include <climits>
#include <string>

#include "signalbus/core/logging.h"

namespace signalbus {

Status ParseUntrusted(std::string_view bytes, google::protobuf::MessageLite& message) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    return InvalidArgument(std::to_string(bytes.size()) + " bytes are too many for one protobuf message");
  }
  ProtobufLogCapture capture;
  if (message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Status::Ok();
  std::string why = "not a " + message.GetTypeName() + " (" + std::to_string(bytes.size()) + " bytes)";
  if (!capture.first().empty()) why += ": " + capture.first();
  return InvalidArgument(why);
}

}  // namespace signalbus
