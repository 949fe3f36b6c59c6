// Training lives here (issue 4).
import SwiftRNN
