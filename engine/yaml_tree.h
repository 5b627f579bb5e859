// A YAML text as a compact, read-only tree, built from yaml-cpp's parse events.
//
// yaml-cpp stays the parser; what it no longer builds is its own node graph (a shared_ptr,
// a memory holder entry and several strings and vectors per node), which cost the loader
// most of its time and memory on large runbooks. The tree here holds the same information
// the loader reads from it, the way yaml-cpp's NodeBuilder would have given it:
//
//   - every node's kind (null, scalar, sequence, mapping), tag and position (the mark of the
//     event that began it);
//   - mappings as their pairs in file order, duplicate keys included (the reader reports
//     them), keys of any kind;
//   - an alias as the very node its anchor names (so it has the anchor's position, and an
//     anchor used inside its own node makes a cycle, as in yaml-cpp); merge keys (`<<`) are
//     left to the reader;
//   - every document of the text.
//
// Layout: one 20-byte record per node, in chunks of 16,384 (so the records never move and
// take what they need); scalar text in one arena; the children of each collection contiguous
// in one index array (a mapping's as key, value, key, value...).
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model.h"

namespace runbook {

class YamlTree;

enum class YamlKind : uint8_t { kUndefined, kNull, kScalar, kSequence, kMap };

/// A node of a YamlTree: a handle (the tree and an index), cheap to copy, valid while the
/// tree lives. A default-constructed node is undefined (no node at all).
class YamlNode {
 public:
  YamlNode() = default;

  YamlKind Type() const;
  bool IsDefined() const { return tree_ != nullptr; }
  bool IsNull() const { return Type() == YamlKind::kNull; }
  bool IsScalar() const { return Type() == YamlKind::kScalar; }
  bool IsSequence() const { return Type() == YamlKind::kSequence; }
  bool IsMap() const { return Type() == YamlKind::kMap; }

  /// The text of a scalar; "" for any other node.
  std::string_view Scalar() const;
  /// The tag as yaml-cpp resolves it: "?" for a plain scalar or an untagged collection, "!"
  /// for a quoted scalar, "" for null, else the explicit tag ("tag:yaml.org,2002:str").
  const std::string& Tag() const;
  /// The position of the event that began the node, counted from 1; {0, 0} when unknown.
  SourceLoc Loc() const;
  /// The number of items of a sequence or pairs of a mapping; 0 for any other node.
  size_t size() const;

  /// The items of a sequence (empty for any other node).
  class Items;
  Items items() const;
  /// The pairs of a mapping (empty for any other node).
  class Pairs;
  Pairs pairs() const;

  /// Whether both are the same node of the same tree (an alias is its anchor's node).
  bool operator==(const YamlNode& other) const {
    return tree_ == other.tree_ && index_ == other.index_;
  }

 private:
  friend class YamlTree;
  YamlNode(const YamlTree* tree, uint32_t index) : tree_(tree), index_(index) {}

  const YamlTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

/// One `key: value` of a mapping.
struct YamlPair {
  YamlNode first;   // the key
  YamlNode second;  // the value
};

/// Parses YAML text into a YamlTree. Owns every node; not copyable (nodes point into it).
class YamlTree {
 public:
  /// Why a text is not YAML: yaml-cpp's message ("end of map not found") and where.
  struct Error {
    SourceLoc loc;  // {0, 0} when yaml-cpp gave no position
    std::string message;
  };

  YamlTree() = default;
  YamlTree(const YamlTree&) = delete;
  YamlTree& operator=(const YamlTree&) = delete;

  /// Parses the documents of `text` with yaml-cpp into `out` (emptied first): every one, or
  /// the first `max_documents` (yaml-cpp's Load reads one and ignores the rest, even when
  /// they are not YAML). Returns false and fills `error` on a text yaml-cpp refuses; then
  /// `out` holds nothing useful. Never throws.
  static bool Parse(std::string_view text, YamlTree* out, Error* error,
                    size_t max_documents = SIZE_MAX);

  /// The documents of the text, in order (none for a text of only comments).
  size_t documents() const { return documents_.size(); }
  YamlNode document(size_t i) const { return {this, documents_.at(i)}; }

  /// The nodes of the text, as written (an alias is not a node of its own).
  size_t nodes() const { return record_count_; }
  /// Whether the text uses an alias (`*name`): only then can a node be reached twice.
  bool has_aliases() const { return has_aliases_; }

  /// What a reader that walks a whole document, every alias replaced by the node it names,
  /// would visit (the plan hash turns the runbook into JSON that way).
  struct Expansion {
    /// An alias inside the node its anchor names (`x: &a [*a]`): the walk would never end.
    bool cycle = false;
    SourceLoc cycle_loc;  // where that node begins
    /// The nodes visited, counted up to `limit` + 1 (when !cycle).
    uint64_t nodes = 0;
  };
  /// Walks document `i` without recursion, each node once: linear in the nodes as written.
  Expansion Expand(size_t i, uint64_t limit) const;

 private:
  friend class YamlNode;
  friend class YamlTreeBuilder;

  struct Record {
    uint32_t kind_and_tag;  // YamlKind in the low 8 bits, an index into tags_ above
    uint32_t line;          // 1-based; 0: unknown
    uint32_t col;
    uint32_t begin;  // scalar: offset in chars_; collection: index in children_
    uint32_t size;   // scalar: bytes; sequence: items; mapping: pairs
  };

  static constexpr uint32_t kChunkBits = 14;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;

  const Record& record(uint32_t index) const {
    return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
  }
  Record& record(uint32_t index) { return chunks_[index >> kChunkBits][index & (kChunkSize - 1)]; }

  std::vector<std::unique_ptr<Record[]>> chunks_;
  uint32_t record_count_ = 0;
  std::vector<uint32_t> children_;
  std::string chars_;
  std::vector<std::string> tags_;  // interned: "?", "!", "" first
  std::vector<uint32_t> documents_;
  bool has_aliases_ = false;
};

class YamlNode::Items {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = YamlNode;
    using difference_type = std::ptrdiff_t;
    using pointer = const YamlNode*;
    using reference = YamlNode;

    iterator() = default;
    iterator(const YamlTree* tree, const uint32_t* at) : tree_(tree), at_(at) {}
    YamlNode operator*() const { return {tree_, *at_}; }
    iterator& operator++() {
      ++at_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++at_;
      return old;
    }
    bool operator==(const iterator& other) const { return at_ == other.at_; }

   private:
    const YamlTree* tree_ = nullptr;
    const uint32_t* at_ = nullptr;
  };

  iterator begin() const { return {tree_, begin_}; }
  iterator end() const { return {tree_, end_}; }

 private:
  friend class YamlNode;
  Items(const YamlTree* tree, const uint32_t* begin, const uint32_t* end)
      : tree_(tree), begin_(begin), end_(end) {}
  const YamlTree* tree_;
  const uint32_t* begin_;
  const uint32_t* end_;
};

class YamlNode::Pairs {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = YamlPair;
    using difference_type = std::ptrdiff_t;
    using pointer = const YamlPair*;
    using reference = YamlPair;

    iterator() = default;
    iterator(const YamlTree* tree, const uint32_t* at) : tree_(tree), at_(at) {}
    YamlPair operator*() const { return {YamlNode(tree_, at_[0]), YamlNode(tree_, at_[1])}; }
    iterator& operator++() {
      at_ += 2;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      at_ += 2;
      return old;
    }
    bool operator==(const iterator& other) const { return at_ == other.at_; }

   private:
    const YamlTree* tree_ = nullptr;
    const uint32_t* at_ = nullptr;
  };

  iterator begin() const { return {tree_, begin_}; }
  iterator end() const { return {tree_, end_}; }

 private:
  friend class YamlNode;
  Pairs(const YamlTree* tree, const uint32_t* begin, const uint32_t* end)
      : tree_(tree), begin_(begin), end_(end) {}
  const YamlTree* tree_;
  const uint32_t* begin_;
  const uint32_t* end_;
};

}  // namespace runbook
