// What makes two sites of different traces the same site: their call stacks name the same
// functions in the same order. Addresses and line numbers move between builds; function names
// (and, for frames without symbols, the module and offset) do not, for the same code.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "analysis.h"

namespace dprof::analyzer {

// A key equal for the same stack in two traces of the same program. The site must be symbolized.
std::string site_identity(const Site& site);

// Site indices by identity: several sites share one when the same functions are reached through
// different lines.
std::unordered_map<std::string, std::vector<size_t>> sites_by_identity(const Analysis& analysis);

// True when the glob `pattern` (fnmatch: *, ?, [...]) matches the function name, whole or with
// leading scopes left off ("Parser::*" matches "app::Parser::parse"), with or without its
// parameter list ("Parser::parse" matches "Parser::parse(int)").
bool function_matches(const std::string& function, const std::string& pattern);
// True when a frame of the site outside the allocation machinery has a matching function.
bool site_matches(const Site& site, const std::string& pattern);

// "Parser::read_block (parser.cpp:88)"
std::string describe_site(const Site& site);

}  // namespace dprof::analyzer
