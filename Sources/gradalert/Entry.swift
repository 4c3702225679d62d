import GradAlertCLI

@main
enum Entry {
    static func main() async {
        await GradAlert.main()
    }
}
