/// Text from the logs — run folders, tags, messages built from them — as HTML that shows it and
/// does nothing else: the five characters that could open a tag, an entity or end an attribute
/// value are replaced by entities, so one function serves element text and quoted attribute
/// values alike. Control characters other than tab and newline (which HTML forbids) become
/// U+FFFD.
enum HTMLText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x26: out += "&amp;"
            case 0x3C: out += "&lt;"
            case 0x3E: out += "&gt;"
            case 0x22: out += "&quot;"
            case 0x27: out += "&#39;"
            case 0x09, 0x0A: out.unicodeScalars.append(scalar)
            case 0x00...0x1F, 0x7F: out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Text from the logs as literal GitHub-flavoured Markdown, fit for a table cell: the punctuation
/// that could start emphasis, code, a link, strikethrough, maths or end a cell is escaped with a
/// backslash; `<`, `>` and `&` become entities (no raw HTML reaches the renderer); line breaks,
/// which would end the table row, become spaces.
enum MarkdownText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C, 0x60, 0x2A, 0x5F, 0x5B, 0x5D, 0x7C, 0x7E, 0x24:  // \ ` * _ [ ] | ~ $
                out += "\\"
                out.unicodeScalars.append(scalar)
            case 0x26: out += "&amp;"
            case 0x3C: out += "&lt;"
            case 0x3E: out += "&gt;"
            case 0x0A, 0x0D, 0x09: out += " "
            case 0x00...0x1F, 0x7F: out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
