#include "engine/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <istream>
#include <limits>
#include <streambuf>
#include <unordered_map>

namespace runbook {

namespace {

constexpr uint32_t kKindBits = 8;
constexpr uint32_t kKindMask = (1u << kKindBits) - 1;

/// yaml-cpp reads from a std::istream; this one reads `text` where it is, without a copy.
class TextBuffer : public std::streambuf {
 public:
  explicit TextBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // only ever read: setg wants char*
    setg(begin, begin, begin + text.size());
  }
};

SourceLoc MarkLoc(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

}  // namespace

// ------------------------------------------------------------------------------- YamlNode

YamlKind YamlNode::Type() const {
  if (tree_ == nullptr) return YamlKind::kUndefined;
  return static_cast<YamlKind>(tree_->record(index_).kind_and_tag & kKindMask);
}

std::string_view YamlNode::Scalar() const {
  if (!IsScalar()) return {};
  const YamlTree::Record& r = tree_->record(index_);
  return std::string_view(tree_->chars_).substr(r.begin, r.size);
}

const std::string& YamlNode::Tag() const {
  static const std::string kNone;
  if (tree_ == nullptr) return kNone;
  return tree_->tags_[tree_->record(index_).kind_and_tag >> kKindBits];
}

SourceLoc YamlNode::Loc() const {
  if (tree_ == nullptr) return {};
  const YamlTree::Record& r = tree_->record(index_);
  return {static_cast<int>(r.line), static_cast<int>(r.col)};
}

size_t YamlNode::size() const {
  YamlKind kind = Type();
  if (kind != YamlKind::kSequence && kind != YamlKind::kMap) return 0;
  return tree_->record(index_).size;
}

YamlNode::Items YamlNode::items() const {
  if (!IsSequence()) return {nullptr, nullptr, nullptr};
  const YamlTree::Record& r = tree_->record(index_);
  const uint32_t* begin = tree_->children_.data() + r.begin;
  return {tree_, begin, begin + r.size};
}

YamlNode::Pairs YamlNode::pairs() const {
  if (!IsMap()) return {nullptr, nullptr, nullptr};
  const YamlTree::Record& r = tree_->record(index_);
  const uint32_t* begin = tree_->children_.data() + r.begin;
  return {tree_, begin, begin + 2 * size_t{r.size}};
}

// ------------------------------------------------------------------------ YamlTreeBuilder

/// Receives yaml-cpp's events and appends the nodes they describe, as its NodeBuilder would
/// link them (see the format at the top of yaml_tree.h).
class YamlTreeBuilder : public YAML::EventHandler {
 public:
  /// `text_size`: the size of the text parsed, which bounds what it can hold.
  YamlTreeBuilder(YamlTree* tree, size_t text_size)
      : t_(*tree),
        max_documents_(text_size + 1),
        max_nodes_(std::min<size_t>(8 * text_size + 64, std::numeric_limits<uint32_t>::max())) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 can loop without consuming input (", a: []b" gives endless empty
    // documents). A document takes at least one byte and a node at most a few: past that
    // bound the parser is not reading the text any more.
    if (t_.documents_.size() >= max_documents_) {
      throw YAML::ParserException(mark, kNoProgress + std::string(" (endless documents)"));
    }
    anchors_.assign(1, 0);  // anchors count from 1 within each document
    open_.clear();
    pending_.clear();
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Finish(Add(YamlKind::kNull, mark, kNullTag, anchor));
  }

  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    // yaml-cpp refuses an unknown anchor before this event; the check guards the vector.
    if (anchor >= anchors_.size())
      throw YAML::ParserException(YAML::Mark::null_mark(), "bad alias");
    t_.has_aliases_ = true;
    Finish(anchors_[anchor]);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (t_.chars_.size() + value.size() > std::numeric_limits<uint32_t>::max()) {
      throw YAML::ParserException(mark, "text too large");
    }
    uint32_t index = Add(YamlKind::kScalar, mark, Intern(tag), anchor);
    YamlTree::Record& r = t_.record(index);
    r.begin = static_cast<uint32_t>(t_.chars_.size());
    r.size = static_cast<uint32_t>(value.size());
    t_.chars_ += value;
    Finish(index);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Add(YamlKind::kSequence, mark, Intern(tag), anchor));
  }
  void OnSequenceEnd() override { Close(1); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Add(YamlKind::kMap, mark, Intern(tag), anchor));
  }
  void OnMapEnd() override { Close(2); }

 private:
  static constexpr uint32_t kPlainTag = 0;   // "?"
  static constexpr uint32_t kQuotedTag = 1;  // "!"
  static constexpr uint32_t kNullTag = 2;    // ""
  static constexpr char kNoProgress[] = "yaml-cpp stopped making progress through the text";

  struct OpenCollection {
    uint32_t node;
    size_t first_child;  // in pending_
  };

  uint32_t Intern(const std::string& tag) {
    if (tag == "?") return kPlainTag;
    if (tag == "!") return kQuotedTag;
    auto [it, added] = explicit_tags_.emplace(tag, static_cast<uint32_t>(t_.tags_.size()));
    if (added) {
      if (t_.tags_.size() >= (1u << (32 - kKindBits))) {
        throw YAML::ParserException(YAML::Mark::null_mark(), "too many tags");
      }
      t_.tags_.push_back(tag);
    }
    return it->second;
  }

  uint32_t Add(YamlKind kind, const YAML::Mark& mark, uint32_t tag, YAML::anchor_t anchor) {
    if (t_.record_count_ >= max_nodes_) {
      throw YAML::ParserException(mark, kNoProgress + std::string(" (endless nodes)"));
    }
    const uint32_t index = t_.record_count_++;
    if ((index & (YamlTree::kChunkSize - 1)) == 0) {
      t_.chunks_.push_back(
          std::make_unique_for_overwrite<YamlTree::Record[]>(YamlTree::kChunkSize));
    }
    SourceLoc loc = MarkLoc(mark);
    t_.record(index) = {static_cast<uint32_t>(kind) | tag << kKindBits,
                        static_cast<uint32_t>(loc.line), static_cast<uint32_t>(loc.col), 0, 0};
    if (anchor != YAML::NullAnchor) {
      // An anchor names the node from here on, also inside its own collection.
      if (anchor >= anchors_.size()) anchors_.resize(anchor + 1, 0);
      anchors_[anchor] = index;
    }
    return index;
  }

  void Open(uint32_t index) { open_.push_back({index, pending_.size()}); }

  /// A complete node: the document's root, or the next child of the open collection.
  void Finish(uint32_t index) {
    if (open_.empty()) {
      t_.documents_.push_back(index);
    } else {
      pending_.push_back(index);
    }
  }

  /// Ends the innermost collection: its children move, contiguous, to the tree.
  void Close(size_t per_entry) {
    OpenCollection open = open_.back();
    open_.pop_back();
    YamlTree::Record& r = t_.record(open.node);
    r.begin = static_cast<uint32_t>(t_.children_.size());
    r.size = static_cast<uint32_t>((pending_.size() - open.first_child) / per_entry);
    t_.children_.insert(t_.children_.end(), pending_.begin() + open.first_child, pending_.end());
    pending_.resize(open.first_child);
    Finish(open.node);
  }

  YamlTree& t_;
  const size_t max_documents_;
  const size_t max_nodes_;
  std::vector<uint32_t> anchors_;                            // anchor id -> node
  std::unordered_map<std::string, uint32_t> explicit_tags_;  // in t_.tags_
  std::vector<OpenCollection> open_;
  std::vector<uint32_t> pending_;  // children of the open collections, innermost last
};

// ------------------------------------------------------------------------------- YamlTree

bool YamlTree::Parse(std::string_view text, YamlTree* out, Error* error, size_t max_documents) {
  out->chunks_.clear();
  out->record_count_ = 0;
  out->children_.clear();
  out->chars_.clear();
  out->documents_.clear();
  out->has_aliases_ = false;
  out->tags_ = {"?", "!", ""};
  // Room for what a text of this size usually holds, so that the arrays seldom move: most of
  // a runbook's bytes are scalar text, and a node takes 8 bytes of text or more. Pages that
  // stay unused are never touched, so never resident.
  constexpr size_t kMaxReserved = size_t{4} << 20;
  out->chars_.reserve(text.size());
  out->children_.reserve(std::min(text.size() / 6, kMaxReserved));
  try {
    TextBuffer buffer(text);
    std::istream in(&buffer);
    YAML::Parser parser(in);
    YamlTreeBuilder builder(out, text.size());
    while (out->documents_.size() < max_documents && parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    *error = {MarkLoc(e.mark), e.msg};
    return false;
  } catch (const std::exception& e) {
    *error = {{}, e.what()};
    return false;
  }
  return true;
}

YamlTree::Expansion YamlTree::Expand(size_t i, uint64_t limit) const {
  // Depth first, the path on a stack: a child that is on the path is an alias inside its own
  // node; one already done is an alias (or a repeat) whose count is known.
  enum : uint8_t { kNew, kOnPath, kDone };
  std::vector<uint8_t> state(record_count_, kNew);
  std::vector<uint64_t> count(record_count_, 0);
  auto children = [&](uint32_t node) -> std::pair<const uint32_t*, const uint32_t*> {
    const Record& r = record(node);
    const auto kind = static_cast<YamlKind>(r.kind_and_tag & kKindMask);
    if (kind != YamlKind::kSequence && kind != YamlKind::kMap) return {nullptr, nullptr};
    const uint32_t* begin = children_.data() + r.begin;
    return {begin, begin + (kind == YamlKind::kMap ? 2 * size_t{r.size} : r.size)};
  };
  struct Frame {
    uint32_t node;
    const uint32_t* next;
  };
  const uint32_t root = documents_.at(i);
  std::vector<Frame> path = {{root, children(root).first}};
  state[root] = kOnPath;
  Expansion out;
  while (!path.empty()) {
    Frame& top = path.back();
    const auto [begin, end] = children(top.node);
    if (top.next != end) {
      const uint32_t child = *top.next++;
      if (state[child] == kOnPath) {
        const Record& r = record(child);
        out.cycle = true;
        out.cycle_loc = {static_cast<int>(r.line), static_cast<int>(r.col)};
        return out;
      }
      if (state[child] == kNew) {
        state[child] = kOnPath;
        path.push_back({child, children(child).first});
      }
      continue;
    }
    uint64_t total = 1;
    for (const uint32_t* c = begin; c != end; ++c) total = std::min(total + count[*c], limit + 1);
    count[top.node] = total;
    state[top.node] = kDone;
    path.pop_back();
  }
  out.nodes = count[root];
  return out;
}

}  // namespace runbook
